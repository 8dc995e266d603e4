package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.store.memory.InMemoryHighVolumeTier;
import io.upsertfeedback.connectors.store.memory.InMemoryLongTermTier;

/** The conformance suite on the in-memory tiers: the same contract as Bigtable with GCS or a directory. */
class InMemoryConformanceTest extends TieredStoreConformanceTest {
    private InMemoryHighVolumeTier tier;

    @Override
    protected HighVolumeTier newHighVolume() {
        tier = new InMemoryHighVolumeTier("conformance");
        return tier;
    }

    @Override
    protected HighVolumeTier highVolumeView() {
        return tier;
    }

    @Override
    protected LongTermTier newLongTerm() {
        return new InMemoryLongTermTier();
    }
}
