package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreMetrics;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * One sink subtask: glue between Flink and three parts with one job each.
 *
 * <ol>
 *   <li>{@link Consolidator}: data updates become one net write per {@code (key, time)}.</li>
 *   <li>{@link WindowedExecutor}: writes run in a bounded window, in order per key. Inline writes
 *       of keys whose previous value was inline (or absent) go in batches of {@code batchSize}
 *       plain versioned writes ({@link TieredStore#writePlain}); a write that involves a large value,
 *       new or previous, takes the store's conditional path on its own ({@link TieredStore#write}).</li>
 *   <li>{@link FrontierPublisher}: a watermark {@code w} marks frontier {@code w + 1}, with the
 *       source positions of the latest progress marker at or below it, for when every write
 *       submitted so far is acknowledged.</li>
 * </ol>
 *
 * <p><b>Start.</b> Holding its attempt's claim of the store's frontier (see {@link TieredStoreSink}),
 * resolves the cleanup notes left by earlier attempts of this subtask and by other epochs, fencing
 * each row first ({@link io.upsertfeedback.connectors.store.Cleaner#resolveFenced}), so that an
 * earlier attempt still running cannot commit a pointer to an object that recovery deletes. The store's owner name
 * is {@code epoch/subtask/attempt}: every attempt has its own.
 *
 * <p><b>Flush</b> (before every checkpoint and at end of input): writes out every group, waits for
 * every write and for cleanup, and publishes the frontier, so a checkpoint never completes with
 * unacknowledged writes. At end of input the subtask also releases its lease. Any failed write
 * fails the job at the next call, and the frontier never passes it (SPEC 4.8, 4.11).
 */
final class TieredStoreSinkWriter implements StatefulSinkWriter<Update, String> {
    private static final Logger LOG = LoggerFactory.getLogger(TieredStoreSinkWriter.class);

    private final StoreHandle handle;
    private final TieredStore store;
    private final String epoch;
    private final int batchSize;
    private final Consolidator consolidator;
    private final WindowedExecutor executor;
    private final FrontierPublisher publisher;
    private final ArrayDeque<Update> progressMarkers = new ArrayDeque<>();
    private final List<TieredStore.Prepared> plainBatch = new ArrayList<>();
    private Map<Integer, Long> positions = Map.of();
    private long submittedWrites;
    private volatile long watermarkFrontier = Long.MIN_VALUE;

    /** @param claimed this attempt's hold on the store's frontier, claimed for {@code epoch} and {@code subtask} */
    TieredStoreSinkWriter(StoreHandle handle, PersistFrontier.Lease claimed, String epoch, int subtask, int windowSize, int batchSize,
                          int consolidationCapacity, Duration lease, MetricGroup metrics) throws IOException {
        this.handle = handle;
        this.store = handle.store();
        this.epoch = epoch;
        this.batchSize = batchSize;
        // earlier attempts of this subtask (a zombie among them cannot commit past the fenced rows) and other jobs
        String mine = epoch + "/" + subtask + "/";
        int recovered = store.recoverPendingCleanups(owner -> owner.startsWith(mine) || !owner.startsWith(epoch + "/"));
        if (recovered > 0) {
            LOG.info("sink subtask {} resolved {} cleanup notes left by earlier writers of {}", subtask, recovered, handle.name());
        }
        this.consolidator = new Consolidator(consolidationCapacity);
        this.publisher = new FrontierPublisher(claimed, store.retrier(), subtask, lease);
        this.executor = new WindowedExecutor(windowSize, "tiered-sink-op-" + subtask, () -> publisher.release(executor().completedBelow()));
        registerMetrics(metrics);
    }

    WindowedExecutor executor() {
        return executor;
    }

    FrontierPublisher publisher() {
        return publisher;
    }

    private void registerMetrics(MetricGroup group) {
        StoreMetrics m = store.metrics();
        gauge(group, "inlinePuts", m.inlinePuts::sum);
        gauge(group, "tombstonePuts", m.tombstonePuts::sum);
        gauge(group, "deletes", m.deletes::sum);
        gauge(group, "staleWrites", m.staleWrites::sum);
        gauge(group, "conditionConflicts", m.conditionConflicts::sum);
        gauge(group, "longTermUploads", m.longTermUploads::sum);
        gauge(group, "longTermDeletes", m.longTermDeletes::sum);
        gauge(group, "inlineBytes", m.inlineBytes::sum);
        gauge(group, "longTermBytes", m.longTermBytes::sum);
        gauge(group, "failures", m.failures::sum);
        gauge(group, "retries", store.retrier()::retries);
        gauge(group, "operationsSubmitted", () -> submittedWrites);
        gauge(group, "windowInUse", () -> executor.inUse());
        gauge(group, "cleanupBacklog", store::cleanupBacklog);
        gauge(group, "ackedFrontier", publisher::published);
        gauge(group, "frontierLag", () -> publisher.published() == Long.MIN_VALUE ? 0
                : Math.max(0, watermarkFrontier - publisher.published()));
    }

    private static void gauge(MetricGroup group, String name, LongSupplier value) {
        group.gauge(name, (Gauge<Long>) value::getAsLong);
    }

    @Override
    public void write(Update update, Context context) throws IOException, InterruptedException {
        checkFailure();
        if (update.isProgress()) {
            progressMarkers.add(update);
            return;
        }
        submit(consolidator.add(update));
    }

    @Override
    public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
        checkFailure();
        long w = watermark.getTimestamp();
        submit(consolidator.drainUpTo(w));
        submitPlainBatch();
        long f = w == Long.MAX_VALUE ? Long.MAX_VALUE : w + 1;
        while (!progressMarkers.isEmpty() && progressMarkers.peekFirst().time() <= f) {
            positions = progressMarkers.pollFirst().positions();
        }
        watermarkFrontier = f;
        publisher.mark(executor.lastSubmitted(), f, positions);
        publisher.release(executor.completedBelow());
    }

    private void submit(List<Consolidator.Consolidated> writes) throws IOException, InterruptedException {
        for (Consolidator.Consolidated c : writes) {
            TieredStore.Prepared p = store.prepare(new TieredStore.Write(c.key(), c.value(), c.time(), c.partition(), c.offset()));
            submittedWrites++;
            if (p.inline() && (c.previous() == null || store.storesInline(c.previous()))) {
                plainBatch.add(p);
                if (plainBatch.size() >= batchSize) {
                    submitPlainBatch();
                }
            } else {
                submitPlainBatch(); // it may hold an earlier write of this key
                executor.submit(List.of(ByteBuffer.wrap(p.key())), () -> store.write(p));
            }
        }
    }

    private void submitPlainBatch() throws IOException, InterruptedException {
        if (plainBatch.isEmpty()) {
            return;
        }
        List<TieredStore.Prepared> batch = List.copyOf(plainBatch);
        plainBatch.clear();
        List<ByteBuffer> keys = new ArrayList<>(batch.size());
        batch.forEach(p -> keys.add(ByteBuffer.wrap(p.key())));
        executor.submit(keys, () -> store.writePlain(batch));
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        submit(consolidator.drainAll());
        submitPlainBatch();
        executor.awaitIdle();
        checkFailure();
        store.drainCleanup();
        publisher.release(executor.completedBelow());
        publisher.publishNow();
        if (endOfInput) {
            publisher.releaseLease();
        }
    }

    /** The writer state: the job's writer epoch, so that a job restored from this snapshot succeeds it ({@link PersistFrontier#claim}). */
    @Override
    public List<String> snapshotState(long checkpointId) {
        return List.of(epoch);
    }

    private void checkFailure() throws IOException {
        try {
            executor.checkFailure();
        } catch (IOException e) {
            throw new IOException("a storage operation on " + handle.name() + " failed permanently", e);
        }
        publisher.checkFailure();
    }

    @Override
    public void close() throws Exception {
        try (StoreHandle h = handle; FrontierPublisher p = publisher; WindowedExecutor e = executor) {
            // stops the storage operations, then the frontier thread, then closes the store
        }
    }
}
