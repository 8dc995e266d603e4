package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.PersistFrontierContractTest;

import java.io.IOException;

/** The frontier contract on the Bigtable emulator (row {@code f} of a fresh table). */
class BigtableFrontierTest extends PersistFrontierContractTest {
    @Override
    protected PersistFrontier newFrontier() throws IOException {
        return new BigtableFrontier(TestBigtable.connection(), TestBigtable.freshTable("frontier"), "store-frontier", false);
    }
}
