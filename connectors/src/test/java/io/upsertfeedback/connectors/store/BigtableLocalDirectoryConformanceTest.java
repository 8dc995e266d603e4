package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.store.localdir.LocalDirectoryLongTermTier;
import io.upsertfeedback.operators.UpsertValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The conformance suite on the Bigtable emulator + a local directory as the long-term tier. */
class BigtableLocalDirectoryConformanceTest extends TieredStoreConformanceTest {
    @TempDir
    Path dir;

    @Override
    protected LongTermTier newLongTerm() throws IOException {
        return new LocalDirectoryLongTermTier(dir.resolve("objects"), RANGES);
    }

    /** The directory of a key's hash used to stay forever: the tier only grew. */
    @Test
    void deletingAKeysLastObjectRemovesItsDirectory() throws Exception {
        store.put(KEY, UpsertValue.of(large(5000)), 1, 0, 1);
        store.put(KEY, UpsertValue.of(large(6000)), 2, 0, 2);
        assertConsistent();
        try (Stream<Path> dirs = Files.list(dir.resolve("objects"))) {
            assertEquals(1, dirs.count(), "one directory while the key has an object");
        }
        store.delete(KEY, 3, 0, 3);
        assertConsistent();
        try (Stream<Path> dirs = Files.list(dir.resolve("objects"))) {
            assertEquals(0, dirs.count(), "nothing left once the key's last object is deleted");
        }
        store.put(KEY, UpsertValue.of(large(5000)), 4, 0, 4);
        assertConsistent();
        assertEquals(1, longTerm.list().size(), "a later write creates the directory again");
    }
}
