package io.upsertfeedback.connectors.store.memory;

import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.PersistFrontierContractTest;

/** The frontier contract in memory. */
class InMemoryFrontierTest extends PersistFrontierContractTest {
    @Override
    protected PersistFrontier newFrontier() {
        return new InMemoryFrontier();
    }
}
