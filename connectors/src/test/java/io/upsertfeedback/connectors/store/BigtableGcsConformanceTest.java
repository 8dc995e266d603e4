package io.upsertfeedback.connectors.store;

import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import io.upsertfeedback.connectors.store.gcs.GcsLongTermTier;

import java.util.UUID;

/** The conformance suite on the Bigtable emulator + the real GCS client over {@code LocalStorageHelper}. */
class BigtableGcsConformanceTest extends TieredStoreConformanceTest {
    @Override
    protected LongTermTier newLongTerm() {
        return new GcsLongTermTier(LocalStorageHelper.getOptions().getService(), "bucket", "store-" + UUID.randomUUID(), RANGES, 256 * 1024);
    }
}
