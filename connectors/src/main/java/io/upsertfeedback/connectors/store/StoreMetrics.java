package io.upsertfeedback.connectors.store;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of one {@link TieredStore}: operations by kind and tier, bytes per tier, failures.
 * Plain {@link LongAdder}s so the store stays free of Flink; the sink exposes them as Flink gauges.
 * Retries are counted by the store's {@link Retrier}, the cleanup backlog by its {@link Cleaner}.
 */
public final class StoreMetrics {
    public final LongAdder inlinePuts = new LongAdder();
    public final LongAdder tombstonePuts = new LongAdder();
    public final LongAdder deletes = new LongAdder();
    public final LongAdder staleWrites = new LongAdder();
    public final LongAdder conditionConflicts = new LongAdder();
    public final LongAdder longTermUploads = new LongAdder();
    public final LongAdder longTermReads = new LongAdder();
    public final LongAdder longTermDeletes = new LongAdder();
    public final LongAdder inlineBytes = new LongAdder();
    public final LongAdder longTermBytes = new LongAdder();
    public final LongAdder failures = new LongAdder();
}
