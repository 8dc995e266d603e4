package io.upsertfeedback.job;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The data directory of {@code local}: one run at a time (the process-level case is in {@link LocalContractTest}). */
class LocalClusterTest {
    /**
     * A new user's finding: a second run on a directory a live run used, with {@code --resume},
     * started a second broker on the same log directory (and a fresh one would have wiped it).
     */
    @Test
    void aDataDirectoryAnotherRunHoldsIsRefusedNamingItsProcess(@TempDir Path tmp) throws Exception {
        Path dataDir = tmp.resolve("data");
        try (FileChannel held = LocalCluster.lock(dataDir, false)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.lock(dataDir, false));
            assertTrue(e.getMessage().startsWith("Option 'local.data-dir': " + dataDir + " is in use by another `upsert local` run (process "
                    + ProcessHandle.current().pid() + "). Fix:"), e.getMessage());
        }
        LocalCluster.lock(dataDir, false).close(); // released with its channel
    }

    @Test
    void resumingWhereNoRunWasIsRefusedBeforeCreatingAnything(@TempDir Path tmp) {
        Path dataDir = tmp.resolve("data");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.lock(dataDir, true));
        assertTrue(e.getMessage().startsWith("--resume: no data of an earlier run in " + dataDir), e.getMessage());
        assertTrue(!dataDir.toFile().exists(), "created " + dataDir);
    }
}
