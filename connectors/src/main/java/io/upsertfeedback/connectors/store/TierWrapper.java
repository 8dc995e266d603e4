package io.upsertfeedback.connectors.store;

import java.io.Serializable;

/**
 * Wraps the tiers of a store as it is opened ({@link Stores#open(org.apache.flink.configuration.ReadableConfig,
 * String, TierWrapper)}), e.g. to inject faults around the real tiers in failure tests, or to
 * instrument them. Serializable: it travels inside a sink. The default wraps nothing.
 */
public interface TierWrapper extends Serializable {
    TierWrapper NONE = new TierWrapper() {
        private static final long serialVersionUID = 1L;
    };

    default HighVolumeTier highVolume(HighVolumeTier tier) {
        return tier;
    }

    default LongTermTier longTerm(LongTermTier tier) {
        return tier;
    }
}
