package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreMetrics;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * One sink subtask.
 *
 * <p><b>Start.</b> Claims the store's frontier row for the job's writer epoch (failing fast, with
 * the store and the running writer named, while another job holds the lease), then resolves the
 * cleanup notes left by dead writers: its own earlier attempts and every other epoch.
 *
 * <p><b>Consolidation.</b> Data updates are grouped per {@code (key, time)} in a bounded
 * insertion-ordered map: a {@code +new} (with or without a {@code -old}) becomes one put of
 * {@code new}, a lone {@code -old} one delete. A group is written when the watermark passes its
 * time, when the map is full (the oldest group: the operator emits a key's pair back to back, so
 * the oldest group is complete), or at a flush.
 *
 * <p><b>Window.</b> Each write takes one of {@code windowSize} permits before it is submitted and
 * returns it on completion; when all are taken, {@link #write} blocks and Flink's backpressure
 * reaches the source. Writes on one key are chained (each starts after the previous finished), so
 * per key they apply in order; writes on different keys run concurrently and complete in any order.
 * Each operation is isolated: transient errors are retried inside the store with backoff; a
 * permanent error is recorded and fails the job at the next call, and the frontier never passes it.
 *
 * <p><b>Persist frontier.</b> A watermark {@code w} registers a mark "frontier {@code w + 1} once
 * every operation submitted so far is acknowledged" with the source positions of the latest
 * progress marker at or below {@code w + 1}. Marks are released in order as operations complete
 * (all operations up to the mark's sequence number are done) and the latest released mark is
 * written to this subtask's column of the frontier row by a single thread, under compare-and-write
 * on the epoch; the same thread heartbeats every quarter lease. {@link #flush} (before every
 * checkpoint and at end of input) writes out every group, waits for every operation and for
 * cleanup, and writes the frontier, so a checkpoint never completes with unacknowledged writes.
 * At end of input the subtask also releases its lease, so a next job can start right away.
 */
final class TieredStoreSinkWriter implements SinkWriter<Update> {
    private static final Logger LOG = LoggerFactory.getLogger(TieredStoreSinkWriter.class);

    private final StoreHandle handle;
    private final TieredStore store;
    private final PersistFrontier frontier;
    private final String epoch;
    private final int subtask;
    private final int windowSize;
    private final int consolidationCapacity;
    private final Semaphore window;
    private final ExecutorService ops;
    private final ScheduledExecutorService frontierThread;
    private final Map<ByteBuffer, CompletableFuture<Void>> lastOpOfKey = new ConcurrentHashMap<>();
    private final LinkedHashMap<KeyTime, Group> groups = new LinkedHashMap<>();
    private final ArrayDeque<Update> progressMarkers = new ArrayDeque<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicReference<Mark> toWrite = new AtomicReference<>();
    private final LongAdder submitted = new LongAdder();
    private final ScheduledFuture<?> heartbeats;

    // guarded by this
    private final TreeSet<Long> inFlight = new TreeSet<>();
    private final ArrayDeque<Mark> marks = new ArrayDeque<>();
    private long nextSeq;

    private Map<Integer, Long> positions = Map.of();
    private volatile long watermarkFrontier = Long.MIN_VALUE;
    private volatile long ackedFrontier = Long.MIN_VALUE;

    private record KeyTime(ByteBuffer key, long time) {}

    /** A consolidating (key, time) group. */
    private static final class Group {
        final byte[] key;
        final long time;
        UpsertValue value;
        int partition;
        long offset;

        Group(byte[] key, long time) {
            this.key = key;
            this.time = time;
        }
    }

    private record Mark(long seq, long frontier, Map<Integer, Long> positions) {}

    TieredStoreSinkWriter(StoreHandle handle, String epoch, int subtask, int parallelism, int windowSize,
                          int consolidationCapacity, Duration lease, MetricGroup metrics) throws IOException {
        this.handle = handle;
        this.store = handle.store();
        this.frontier = handle.frontier();
        this.epoch = epoch;
        this.subtask = subtask;
        this.windowSize = windowSize;
        this.consolidationCapacity = consolidationCapacity;
        this.window = new Semaphore(windowSize);

        frontier.claim(epoch, parallelism, lease);
        String me = store.owner();
        int recovered = store.recoverPendingCleanups(owner -> owner.equals(me) || !owner.startsWith(epoch + "/"));
        if (recovered > 0) {
            LOG.info("sink subtask {} resolved {} cleanup notes left by earlier writers of {}", subtask, recovered, handle.name());
        }

        this.ops = Executors.newFixedThreadPool(windowSize, daemon("tiered-sink-op-" + subtask));
        this.frontierThread = Executors.newSingleThreadScheduledExecutor(daemon("tiered-sink-frontier-" + subtask));
        long beat = Math.max(1, lease.toMillis() / 4);
        this.heartbeats = frontierThread.scheduleWithFixedDelay(this::heartbeat, beat, beat, TimeUnit.MILLISECONDS);
        registerMetrics(metrics);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
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
        gauge(group, "operationsSubmitted", submitted::sum);
        gauge(group, "windowInUse", () -> windowSize - window.availablePermits());
        gauge(group, "cleanupBacklog", store::cleanupBacklog);
        gauge(group, "ackedFrontier", () -> ackedFrontier);
        gauge(group, "frontierLag", () -> ackedFrontier == Long.MIN_VALUE ? 0 : Math.max(0, watermarkFrontier - ackedFrontier));
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
        KeyTime kt = new KeyTime(ByteBuffer.wrap(update.key()), update.time());
        Group g = groups.computeIfAbsent(kt, k -> new Group(update.key(), update.time()));
        if (update.diff() > 0) {
            g.value = update.value();
            g.partition = update.partition();
            g.offset = update.offset();
        } else if (g.value == null) {
            g.partition = update.partition();
            g.offset = update.offset();
        }
        if (groups.size() > consolidationCapacity) {
            Iterator<Group> eldest = groups.values().iterator();
            submit(eldest.next());
            eldest.remove();
        }
    }

    @Override
    public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
        checkFailure();
        long w = watermark.getTimestamp();
        for (Iterator<Group> it = groups.values().iterator(); it.hasNext(); ) {
            Group g = it.next();
            if (g.time <= w) {
                submit(g);
                it.remove();
            }
        }
        long f = w == Long.MAX_VALUE ? Long.MAX_VALUE : w + 1;
        while (!progressMarkers.isEmpty() && progressMarkers.peekFirst().time() <= f) {
            positions = progressMarkers.pollFirst().positions();
        }
        watermarkFrontier = f;
        synchronized (this) {
            if (!marks.isEmpty() && marks.peekLast().seq() == nextSeq - 1) {
                marks.pollLast(); // no operation since the previous mark: the newer one supersedes it
            }
            marks.add(new Mark(nextSeq - 1, f, positions));
        }
        releaseMarks();
    }

    private void submit(Group g) throws InterruptedException, IOException {
        while (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
            checkFailure();
        }
        long seq;
        synchronized (this) {
            seq = nextSeq++;
            inFlight.add(seq);
        }
        submitted.increment();
        ByteBuffer key = ByteBuffer.wrap(g.key);
        CompletableFuture<Void> previous = lastOpOfKey.get(key);
        CompletableFuture<Void> start = previous == null ? CompletableFuture.completedFuture(null) : previous.exceptionally(e -> null);
        CompletableFuture<Void> op = start.thenRunAsync(() -> apply(g), ops);
        lastOpOfKey.put(key, op);
        op.whenComplete((v, e) -> {
            lastOpOfKey.remove(key, op);
            window.release();
            synchronized (this) {
                inFlight.remove(seq);
                if (e != null) {
                    failure.compareAndSet(null, e instanceof java.util.concurrent.CompletionException ? e.getCause() : e);
                }
                notifyAll();
            }
            releaseMarks();
        });
    }

    private void apply(Group g) {
        try {
            if (g.value != null) {
                store.put(g.key, g.value, g.time, g.partition, g.offset);
            } else {
                store.delete(g.key, g.time, g.partition, g.offset);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("storage operation on " + handle.name() + " failed permanently", e);
        }
    }

    /** Hands the latest mark whose operations are all acknowledged to the frontier thread. */
    private void releaseMarks() {
        Mark released = null;
        synchronized (this) {
            long lowest = inFlight.isEmpty() ? Long.MAX_VALUE : inFlight.first();
            while (!marks.isEmpty() && marks.peekFirst().seq() < lowest) {
                released = marks.pollFirst();
            }
        }
        if (released != null && failure.get() == null) {
            toWrite.set(released);
            frontierThread.execute(this::writeFrontier);
        }
    }

    private void writeFrontier() {
        Mark m = toWrite.getAndSet(null);
        if (m == null || failure.get() != null) {
            return;
        }
        try {
            store.retrier().call(() -> {
                frontier.advance(epoch, subtask, new FrontierState(m.frontier(), m.positions()));
                return null;
            });
            ackedFrontier = m.frontier();
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    private void heartbeat() {
        try {
            store.retrier().call(() -> {
                frontier.heartbeat(epoch, subtask);
                return null;
            });
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        for (Group g : groups.values()) {
            submit(g);
        }
        groups.clear();
        synchronized (this) {
            while (!inFlight.isEmpty()) {
                wait();
            }
        }
        checkFailure();
        store.drainCleanup();
        try {
            frontierThread.submit(this::writeFrontier).get();
            checkFailure();
            if (endOfInput) {
                heartbeats.cancel(false);
                frontierThread.submit(() -> {
                    frontier.release(epoch, subtask);
                    return null;
                }).get();
            }
        } catch (ExecutionException e) {
            throw new IOException("cannot update the frontier row of " + handle.name(), e.getCause());
        }
    }

    private void checkFailure() throws IOException {
        Throwable t = failure.get();
        if (t != null) {
            throw t instanceof IOException io ? io : new IOException("tiered-store sink failed: " + t.getMessage(), t);
        }
    }

    @Override
    public void close() throws Exception {
        ops.shutdownNow();
        frontierThread.shutdownNow();
        try {
            if (!ops.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("sink subtask {}: storage operations did not stop within 30 s", subtask);
            }
            frontierThread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while closing the sink");
        } finally {
            handle.close();
        }
    }
}
