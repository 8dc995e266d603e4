package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.store.localdir.LocalDirectoryLongTermTier;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

/** The conformance suite on the Bigtable emulator + a local directory as the long-term tier. */
class BigtableLocalDirectoryConformanceTest extends TieredStoreConformanceTest {
    @TempDir
    Path dir;

    @Override
    protected LongTermTier newLongTerm() throws IOException {
        return new LocalDirectoryLongTermTier(dir.resolve("objects"), RANGES);
    }
}
