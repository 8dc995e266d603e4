package io.upsertfeedback.operators;

import io.upsertfeedback.operators.KeyDrainer.DrainStats;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;

/**
 * The upsert feedback operator's metrics. A command's fate at arrival is counted as it happens
 * ({@link #droppedBelowResumePosition}, {@link #droppedSuperseded}, {@link #retimed},
 * {@link #rehydratedValues}); a drain pass is counted in one place, from its {@link DrainStats}
 * ({@link #drained}). The gauges read the frontiers and the held times.
 */
final class OperatorMetrics {
    final Counter droppedSuperseded;
    final Counter droppedBelowResumePosition;
    final Counter retimed;
    final Counter rehydratedValues;
    private final Counter inserts;
    private final Counter updates;
    private final Counter deletes;
    private final Counter noopUpdates;
    private final Counter absentDeletes;
    private long lastDrainEligible;
    private long lastDrainIneligible;

    OperatorMetrics(MetricGroup group, Frontiers frontiers, HeldTimes held) {
        inserts = group.counter("inserts");
        updates = group.counter("updates");
        deletes = group.counter("deletes");
        noopUpdates = group.counter("noopUpdates");
        absentDeletes = group.counter("absentDeletes");
        MetricGroup dropped = group.addGroup("commandsDropped");
        droppedSuperseded = dropped.counter("superseded");
        droppedBelowResumePosition = dropped.counter("belowResumePosition");
        retimed = group.counter("commandsRetimed");
        rehydratedValues = group.counter("rehydratedValues");
        group.gauge("stashEntries", held::size);
        group.gauge("heldTimes", held::buckets);
        group.gauge("lastDrainEligible", () -> lastDrainEligible);
        group.gauge("lastDrainIneligible", () -> lastDrainIneligible);
        group.gauge("inputFrontier", () -> frontiers.input);
        group.gauge("persistFrontier", () -> frontiers.persist);
        group.gauge("stateFrontier", () -> frontiers.state);
        group.gauge("outputWatermark", () -> frontiers.outputWatermark);
        group.gauge("rehydrating", () -> frontiers.persistKnown() ? 0 : 1);
    }

    /** A drain pass ended with {@code stats}, leaving {@code stillHeld} stash entries. */
    void drained(DrainStats stats, long stillHeld) {
        inserts.inc(stats.inserts());
        updates.inc(stats.updates());
        deletes.inc(stats.deletes());
        noopUpdates.inc(stats.noopUpdates());
        absentDeletes.inc(stats.absentDeletes());
        droppedSuperseded.inc(stats.superseded());
        retimed.inc(stats.retimed());
        lastDrainEligible = stats.applied();
        lastDrainIneligible = stillHeld;
    }
}
