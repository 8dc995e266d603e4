package io.upsertfeedback.connectors.feedback;

import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.Frontiers;
import io.upsertfeedback.operators.UpsertCommand;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.util.concurrent.ExecutorThreadFactory;

import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Reader of the feedback source. With the split: reads {@code P}; if the store has a frontier
 * ({@code P > Long.MIN_VALUE}) and rehydration is not done, streams every live stored value as an
 * {@link UpsertCommand} (key, value with its error kept, the order key and time that wrote it),
 * resuming after the last key fed if restored mid-way; then emits watermark {@code P - 1} and
 * re-reads the frontier row every poll interval, emitting {@code P - 1} whenever {@code P}
 * advances. An empty store is reported as {@link Frontiers#EMPTY_STORE}, so the operator knows
 * {@code P} before it emits anything. {@code P = Long.MAX_VALUE} (the writing job finished its input) ends the source.
 * Waiting between polls is an availability future completed by the reader's timer thread, never a blocking sleep.
 *
 * <p>Metrics: {@code feedbackKeysLoaded} (counter: stored values fed during rehydration),
 * {@code feedbackPollFailures} (gauge: failed frontier reads so far) and {@code rehydrationLatencyMs}
 * (gauge: how long the attempt that finished rehydration took, in ms; {@code -1} until then). The
 * latency is kept in the split, so a failover after rehydration restores it instead of reporting
 * {@code -1} for the rest of the job.
 */
final class FeedbackSourceReader implements SourceReader<UpsertCommand, FeedbackSplit> {
    private final Configuration storeConfig;
    private final long pollMillis;
    private final Counter keysLoaded;
    private final CompletableFuture<Void> splitArrived = new CompletableFuture<>();
    private volatile long rehydrationMillis = -1;

    private StoreHandle handle;
    private FeedbackSplit split;
    private boolean noMoreSplits;
    private CloseableIterator<StoredEntry> scanner;
    private long rehydrationStart;
    private long emittedFrontier = Long.MIN_VALUE;
    private long nextPoll;
    private FrontierPoll poll;
    /**
     * Completes the availability future at the next poll: the reader's own thread, ended in
     * {@link #close}. The JDK's {@code CompletableFuture.delayedExecutor} did this before; its one
     * shared scheduler thread, started from a task, holds that job's classloader on the
     * TaskManager for good (its inherited access control context names the job's classes), and on
     * two cores (common pool parallelism 1) it ran every poll on a new thread.
     */
    private final ScheduledExecutorService pollTimer;

    FeedbackSourceReader(Configuration storeConfig, Duration pollInterval, SourceReaderContext context) {
        this.storeConfig = storeConfig;
        this.pollMillis = Math.max(1, pollInterval.toMillis());
        this.keysLoaded = context.metricGroup().counter("feedbackKeysLoaded");
        this.pollTimer = Executors.newSingleThreadScheduledExecutor(new ExecutorThreadFactory("feedback-poll-timer " + context.getIndexOfSubtask()));
        context.metricGroup().gauge("feedbackPollFailures", (Gauge<Long>) () -> poll == null ? 0 : poll.failures());
        context.metricGroup().gauge("rehydrationLatencyMs", (Gauge<Long>) () -> rehydrationMillis);
    }

    @Override
    public void start() {}

    @Override
    public InputStatus pollNext(ReaderOutput<UpsertCommand> output) throws Exception {
        if (split == null) {
            return noMoreSplits ? InputStatus.END_OF_INPUT : InputStatus.NOTHING_AVAILABLE;
        }
        PersistFrontier frontier = handle.frontier();
        if (!split.rehydrated()) {
            if (scanner == null) {
                rehydrationStart = System.nanoTime();
                if (frontier.read().p() == Long.MIN_VALUE) {
                    finishRehydration();
                } else {
                    scanner = handle.store().scan(split.lastKey());
                }
            }
            if (scanner != null) {
                if (scanner.hasNext()) {
                    StoredEntry e = scanner.next();
                    output.collect(new UpsertCommand(e.key(), e.value(), e.meta().getPartition(), e.meta().getOffset(),
                            e.meta().getTime()), e.meta().getTime());
                    keysLoaded.inc();
                    split = FeedbackSplit.scannedTo(e.key());
                    return InputStatus.MORE_AVAILABLE;
                }
                finishRehydration();
            }
        }
        long now = System.currentTimeMillis();
        if (now >= nextPoll) {
            nextPoll = now + pollMillis;
            // an empty store still speaks: the operator emits nothing until it knows P (SPEC 3.10)
            OptionalLong read = poll.read(() -> frontier.read().p());
            long p = read.isEmpty() ? Long.MIN_VALUE : Math.max(read.getAsLong(), Frontiers.EMPTY_STORE);
            if (p > emittedFrontier) {
                emittedFrontier = p;
                output.emitWatermark(new Watermark(p - 1));
            }
            if (p == Long.MAX_VALUE) {
                return InputStatus.END_OF_INPUT;
            }
        }
        return InputStatus.NOTHING_AVAILABLE;
    }

    private void finishRehydration() throws java.io.IOException {
        if (scanner != null) {
            scanner.close();
            scanner = null;
        }
        rehydrationMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - rehydrationStart);
        split = FeedbackSplit.rehydratedIn(rehydrationMillis);
        nextPoll = 0;
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        if (split == null && !noMoreSplits) {
            return splitArrived;
        }
        long delay = Math.max(0, nextPoll - System.currentTimeMillis());
        CompletableFuture<Void> due = new CompletableFuture<>();
        pollTimer.schedule(() -> due.complete(null), delay, TimeUnit.MILLISECONDS);
        return due;
    }

    @Override
    public List<FeedbackSplit> snapshotState(long checkpointId) {
        return split == null ? List.of() : List.of(split);
    }

    @Override
    public void addSplits(List<FeedbackSplit> splits) {
        split = splits.get(0);
        rehydrationMillis = split.rehydrationMillis();
        try {
            handle = Stores.open(storeConfig, "feedback-reader");
            poll = new FrontierPoll(handle.store().retrier().patience(), System::nanoTime);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot open the store for the feedback source", e);
        }
        splitArrived.complete(null);
    }

    @Override
    public void notifyNoMoreSplits() {
        noMoreSplits = true;
        splitArrived.complete(null);
    }

    @Override
    public void close() throws Exception {
        pollTimer.shutdownNow();
        try (StoreHandle h = handle; CloseableIterator<StoredEntry> s = scanner) {
            // closes the scan cursor, then the store
        }
    }
}
