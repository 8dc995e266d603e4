package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening a store from Flink configuration fails fast, naming the option to fix. */
class StoresTest {
    @TempDir
    Path dir;

    private static void assertNames(String option, Configuration conf) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Stores.open(conf, "test"));
        assertTrue(e.getMessage().contains(option), e.getMessage());
    }

    @Test
    void missingOrWrongOptionsAreNamed() {
        Configuration noInstance = new Configuration();
        noInstance.set(StoreOptions.LONG_TERM_PATH, dir.toString());
        assertNames("store.bigtable.project", noInstance);

        Configuration noLongTerm = new Configuration();
        noLongTerm.set(StoreOptions.BIGTABLE_EMULATOR_HOST, TestBigtable.emulator().endpoint());
        assertNames("store.long-term.path", noLongTerm);

        Configuration badUri = TestBigtable.emulator().storeConfig("t", dir);
        badUri.set(StoreOptions.LONG_TERM_PATH, "gs:///no-bucket");
        assertNames("store.long-term.path", badUri);

        Configuration noTable = TestBigtable.emulator().storeConfig("never-created", dir);
        noTable.set(StoreOptions.BIGTABLE_CREATE_TABLE, false);
        assertNames("store.bigtable.create-table", noTable);
    }
}
