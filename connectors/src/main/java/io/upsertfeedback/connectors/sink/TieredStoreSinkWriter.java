package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreMetrics;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * One sink subtask: glue between Flink and three parts with one job each.
 *
 * <ol>
 *   <li>{@link Consolidator}: data updates are held per key, and sum up to one net write per key,
 *       until the watermark has passed the key and the window has a free place (or the
 *       consolidator is full): while storage keeps up a key is written as soon as the watermark
 *       passes it; while storage is the bottleneck a key absorbs its later updates instead of
 *       being written once per tick (SPEC 3.12). A completed operation has the task thread
 *       (Flink's mailbox) write what waits.</li>
 *   <li>{@link WindowedExecutor}: writes run in a bounded window, in order per key. Inline writes
 *       of keys none of whose summed values is large go in batches of {@code batchSize} plain
 *       versioned writes ({@link TieredStore#writePlain}); a write that involves a large value,
 *       new, previous or in between, takes the store's conditional path on its own
 *       ({@link TieredStore#write}).</li>
 *   <li>{@link FrontierPublisher}: a watermark {@code w} marks frontier {@code w + 1}, with the
 *       source positions of the latest progress marker at or below it, once no key held is below
 *       it, for when every write submitted by then is acknowledged.</li>
 * </ol>
 *
 * <p><b>Start.</b> Holding its attempt's claim of the store's frontier (see {@link TieredStoreSink}),
 * resolves the cleanup notes left by earlier attempts of this subtask and by other epochs, fencing
 * each row first ({@link io.upsertfeedback.connectors.store.Cleaner#resolveFenced}), so that an
 * earlier attempt still running cannot commit a pointer to an object that recovery deletes. The store's owner name
 * is {@code epoch/subtask/attempt}: every attempt has its own.
 *
 * <p><b>Catch-up hold</b> (SPEC 3.12). While the watermark runs ahead of the wall clock
 * ({@link CatchUp}, sampled every second, judged over the last {@link CatchUp#SPAN} samples), the
 * sink reads a backlog: a held key is then written
 * only once it has been held for {@code catchUpMaxHold} (or to make room), so it absorbs the
 * backlog's later updates, and a checkpoint keeps the held keys in the writer state instead of
 * writing them. The frontier still never passes a held key, so the store's {@code P} advances
 * about once per {@code catchUpMaxHold} during a backlog; once the watermark has stopped outrunning
 * the clock over that span (the backlog is read), the sample writes what is held at once, and at the
 * end of input the flush does. Each transition is logged at INFO. From the first watermark until
 * a sample has judged the pace over at least a window (1 to 2 s) the sink holds too, so a backlog's first
 * second is not written twice. A zero {@code catchUpMaxHold} never holds: Materialize's strict lead
 * needs every tick written.
 *
 * <p><b>Flush</b> (before every checkpoint and at end of input): writes out every held key (unless
 * catching up, see above; always at end of input), waits for every write and for cleanup, and
 * publishes the frontier, so a checkpoint never completes with unacknowledged writes; the deletes
 * written by then go to the {@link MarkerCollector}. At end of input the subtask also releases its
 * lease. Any failed write fails the job at the next call, and the frontier never passes it (SPEC
 * 4.8, 4.11).
 *
 * <p><b>Restore.</b> From the writer state this subtask wrote, the held keys are held again, with
 * the last watermark and the frontiers not marked yet (a restored operator does not emit them
 * again), and written as usual. Held keys of other subtasks' states (after a rescale, when Flink
 * hands the states round) are written before the writer takes any input, since their keys now
 * reach other subtasks; their frontiers are not taken over (their positions are other subtasks'):
 * the store's {@code P} then moves on with the operator's next watermark.
 */
final class TieredStoreSinkWriter implements StatefulSinkWriter<Update, WriterState>, CommittingSinkWriter<Update, DeleteMarkers> {

    private static final Logger LOG = LoggerFactory.getLogger(TieredStoreSinkWriter.class);

    private final StoreHandle handle;
    private final TieredStore store;
    private final String epoch;
    private final int subtask;
    private final int parallelism;
    private final int batchSize;
    private final long catchUpMaxHold;
    private final ProcessingTimeService timers;
    private final CatchUp catchUp = new CatchUp();
    private final Consolidator consolidator;
    private final WindowedExecutor executor;
    private final FrontierPublisher publisher;
    private final ArrayDeque<Update> progressMarkers = new ArrayDeque<>();
    private final List<TieredStore.Prepared> plainBatch = new ArrayList<>();
    private final Executor taskThread;
    private final AtomicBoolean pumpScheduled = new AtomicBoolean();
    /** Whether something is held, batched or unmarked: a completion then schedules {@link #pump}. */
    private volatile boolean waiting;
    /** Frontiers the watermark reached, each to be marked once nothing below it is held. */
    private final ArrayDeque<WriterState.Frontier> frontiers = new ArrayDeque<>();
    private long releasable = Long.MIN_VALUE;
    /** Deletes submitted since the last {@link #prepareCommit}: their markers, for the {@link MarkerCollector}. */
    private List<DeleteMarkers.Marker> deletes = new ArrayList<>();
    /** Markers held back while catching up at most ({@link #prepareCommit}). */
    static final int MAX_DEFERRED_MARKERS = 100_000;
    /** Whether the input ended ({@code flush(true)}). */
    private boolean inputEnded;
    private IOException pumpFailure;
    private Map<Integer, Long> positions = Map.of();
    private long submittedWrites;
    private volatile long watermarkFrontier = Long.MIN_VALUE;

    /**
     * How one sink subtask writes: {@code windowSize} storage operations in flight, inline writes in
     * batches of {@code batchSize}, at most {@code heldKeys} keys and {@code heldBytes} bytes held
     * for consolidation ({@link Consolidator}), the lease's duration (heartbeats every quarter), and
     * how long a key is held at most while catching up ({@code Duration.ZERO}: no catch-up hold).
     */
    record Settings(int windowSize, int batchSize, int heldKeys, long heldBytes, Duration lease, Duration catchUpMaxHold) {}

    /**
     * @param claimed this attempt's hold on the store's frontier, claimed for {@code epoch} and {@code subtask}
     * @param restored the writer states this subtask was restored with (empty for a fresh start)
     * @param taskThread runs an action on the task's thread (Flink's mailbox): a completed storage
     *                   operation has it write what is held
     * @param timers the task's processing-time service: the clock of the catch-up hold, and its timer (callbacks
     *               run on the task's thread)
     */
    TieredStoreSinkWriter(StoreHandle handle, PersistFrontier.Lease claimed, String epoch, int subtask, int parallelism,
                          Settings settings, Collection<WriterState> restored, Executor taskThread, ProcessingTimeService timers,
                          MetricGroup metrics) throws IOException, InterruptedException {
        this.handle = handle;
        this.store = handle.store();
        this.epoch = epoch;
        this.subtask = subtask;
        this.parallelism = parallelism;
        this.batchSize = settings.batchSize();
        this.catchUpMaxHold = settings.catchUpMaxHold().toMillis();
        this.taskThread = taskThread;
        this.timers = timers;
        // earlier attempts of this subtask (a zombie among them cannot commit past the fenced rows) and other jobs
        String mine = epoch + "/" + subtask + "/";
        int recovered = store.recoverPendingCleanups(owner -> owner.startsWith(mine) || !owner.startsWith(epoch + "/"));
        if (recovered > 0) {
            LOG.info("sink subtask {} resolved {} cleanup notes left by earlier writers of {}", subtask, recovered, handle.name());
        }
        this.consolidator = new Consolidator(settings.heldKeys(), settings.heldBytes(), value -> !store.storesInline(value));
        this.publisher = new FrontierPublisher(claimed, store.retrier(), subtask, settings.lease());
        this.executor = new WindowedExecutor(settings.windowSize(), "tiered-sink-op-" + subtask,
                this::operationCompleted, this::placeFreed);
        registerMetrics(metrics);
        restore(restored);
        if (catchUpMaxHold > 0) {
            timers.registerTimer(timers.getCurrentProcessingTime() + CatchUp.WINDOW_MILLIS, this::sampleCatchUp);
        }
    }

    /** Holds again the keys of the restored states; writes at once those another subtask held (see the class comment). */
    private void restore(Collection<WriterState> restored) throws IOException, InterruptedException {
        long now = timers.getCurrentProcessingTime();
        boolean others = false;
        for (WriterState state : restored) {
            consolidator.restore(state.held(), now);
            if (state.writtenBy(subtask, parallelism)) {
                releasable = state.watermark();
                positions = state.positions();
                frontiers.addAll(state.frontiers());
            } else {
                others |= state.held().length > 0;
            }
        }
        if (others) {
            LOG.info("sink subtask {} writes {} held keys restored from other subtasks' state", subtask, consolidator.size());
            writeAllHeld();
            executor.awaitIdle();
            checkFailure();
        }
        pump();
    }

    /** The catch-up timer, on the task thread: samples the watermark's pace, writes what is due, and comes again. */
    private void sampleCatchUp(long now) {
        boolean before = catchUp.catchingUp();
        if (catchUp.sample(now, releasable) != before) {
            LOG.info("sink subtask {} {} (watermark {}, {} keys held)", subtask,
                    before ? "caught up: writes what it holds" : "is catching up: holds keys across checkpoints", releasable, consolidator.size());
        }
        pump();
        timers.registerTimer(now + CatchUp.WINDOW_MILLIS, this::sampleCatchUp);
    }

    /** On the completing thread: hand the progress to the publisher. */
    private void operationCompleted() {
        publisher.release(executor.completedBelow());
    }

    /** On the completing thread, once its place in the window is free: have the task thread write what is held. */
    private void placeFreed() {
        if (waiting && pumpScheduled.compareAndSet(false, true)) {
            try {
                taskThread.execute(() -> {
                    pumpScheduled.set(false);
                    pump();
                });
            } catch (RejectedExecutionException e) {
                pumpScheduled.set(false); // the task is ending: its flush or its failover writes what is held
            }
        }
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
        gauge(group, "heldKeys", consolidator::size);
        gauge(group, "heldBytes", consolidator::bytes);
        gauge(group, "catchingUp", () -> catchUp.catchingUp() ? 1 : 0);
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
        consolidator.add(update, timers.getCurrentProcessingTime());
        if (!waiting) { // read first: the field is volatile, and a write on each update costs a fence
            waiting = true; // a freed place in the window must now pump (placeFreed)
        }
        if (consolidator.overCapacity()) {
            do {
                consolidator.takeEldest(Long.MAX_VALUE, Long.MAX_VALUE, this::submit); // blocks while the window is full: backpressure
            } while (consolidator.overCapacity());
            pump(); // the batch the eviction left
        }
    }

    @Override
    public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
        checkFailure();
        long w = watermark.getTimestamp();
        catchUp.firstWatermark(timers.getCurrentProcessingTime(), w);
        releasable = Math.max(releasable, w);
        long f = w == Long.MAX_VALUE ? Long.MAX_VALUE : w + 1;
        while (!progressMarkers.isEmpty() && progressMarkers.peekFirst().time() <= f) {
            positions = progressMarkers.pollFirst().positions();
        }
        watermarkFrontier = f;
        frontiers.add(new WriterState.Frontier(f, positions));
        pump();
    }

    /**
     * On the task thread: while the window has a free place, writes out the eldest held keys the
     * watermark has passed and, while catching up, held for {@code catchUpMaxHold} (it waits only
     * when a large value needs a place right after a batch took the last one); then marks every frontier below which nothing is held any more, for when
     * the operations submitted so far complete. What it cannot write now stays held and keeps
     * consolidating; the next completion calls it again. After a failed submission it does nothing:
     * a write that was taken but not submitted must never be passed by a frontier.
     *
     * <p>Called when something it waits for changed: a watermark, a completion that freed a place,
     * the catch-up timer (a hold that ran out), a restore, an eviction to make room. Not for each
     * update: an update is never below the watermark (the operator emits none below its output
     * watermark), so holding it can make no key writable and let no frontier be marked. Pumping
     * after each of the 3.4 million updates of the 24-hour backlog benchmark took 3.5 % of the task
     * thread's samples (JFR).
     */
    private void pump() {
        if (pumpFailure != null) {
            return;
        }
        try {
            long heldAtOrBefore = holdsAcrossCheckpoints() ? timers.getCurrentProcessingTime() - catchUpMaxHold : Long.MAX_VALUE;
            while (executor.hasFreePermit() && consolidator.takeEldest(releasable, heldAtOrBefore, this::submit)) {
                // taken: submitted, or batched in plainBatch
            }
            if (!plainBatch.isEmpty() && executor.hasFreePermit()) {
                submitPlainBatch();
            }
            while (!frontiers.isEmpty() && plainBatch.isEmpty() && consolidator.minHeldTime() >= frontiers.peekFirst().f()) {
                WriterState.Frontier fr = frontiers.pollFirst();
                publisher.mark(executor.lastSubmitted(), fr.f(), fr.positions());
            }
            publisher.release(executor.completedBelow());
            waiting = consolidator.size() > 0 || !plainBatch.isEmpty() || !frontiers.isEmpty();
        } catch (IOException e) {
            pumpFailure = e; // a failed submission: thrown at the writer's next call
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pumpFailure = new InterruptedIOException("interrupted while writing held updates");
        }
    }

    private void submit(Consolidator.Consolidated c) throws IOException, InterruptedException {
        TieredStore.Prepared p = store.prepare(new TieredStore.Write(c.key(), c.value(), c.time(), c.partition(), c.offset()));
        submittedWrites++;
        if (c.value() == null) {
            deletes.add(new DeleteMarkers.Marker(c.key(), c.time(), c.partition(), c.offset()));
        }
        if (p.inline() && !c.touchesTombstone()) {
            plainBatch.add(p);
            if (plainBatch.size() >= batchSize) {
                submitPlainBatch();
            }
        } else {
            submitPlainBatch(); // it may hold an earlier write of this key
            executor.submit(List.of(ByteBuffer.wrap(p.key())), () -> store.write(p));
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

    /** Whether held keys stay held across checkpoints now: catching up, with a catch-up hold. */
    private boolean holdsAcrossCheckpoints() {
        return catchUpMaxHold > 0 && catchUp.holds();
    }

    /** Writes out every held key, blocking while the window is full. */
    private void writeAllHeld() throws IOException, InterruptedException {
        while (consolidator.takeEldest(Long.MAX_VALUE, Long.MAX_VALUE, this::submit)) {
            // taken: submitted, or batched in plainBatch
        }
        submitPlainBatch();
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        checkFailure();
        inputEnded |= endOfInput;
        if (endOfInput || !holdsAcrossCheckpoints()) {
            writeAllHeld();
        } else {
            submitPlainBatch(); // held keys go into the writer state
        }
        pump(); // marks the frontiers below what is still held
        executor.awaitIdle();
        checkFailure();
        store.drainCleanup();
        publisher.release(executor.completedBelow());
        publisher.publishNow();
        if (endOfInput) {
            publisher.releaseLease();
        }
    }

    private void checkFailure() throws IOException {
        if (pumpFailure != null) {
            throw new IOException("writing to " + handle.name() + " failed", pumpFailure);
        }
        try {
            executor.checkFailure();
        } catch (IOException e) {
            throw new IOException("a storage operation on " + handle.name() + " failed permanently", e);
        }
        publisher.checkFailure();
    }

    /**
     * After {@link #flush}, before the checkpoint's barrier: the markers of the deletes written
     * since the last checkpoint, all acknowledged, for collection once the checkpoint completed.
     * While catching up they are held back (up to {@link #MAX_DEFERRED_MARKERS}) and handed over
     * with a later checkpoint's: removing a marker costs a conditional mutation, more than the
     * delete, and a backlog writes its keys again and again (measured: a day's backlog of
     * 2,000,000 commands spent more on markers than on its writes). A failure meanwhile leaves the
     * held-back markers in the table: correct, only larger (see {@link MarkerCollector}).
     */
    @Override
    public Collection<DeleteMarkers> prepareCommit() {
        if (deletes.isEmpty() || !inputEnded && holdsAcrossCheckpoints() && deletes.size() < MAX_DEFERRED_MARKERS) {
            return List.of();
        }
        DeleteMarkers batch = new DeleteMarkers(deletes);
        deletes = new ArrayList<>();
        return List.of(batch);
    }

    /**
     * The writer state: the job's writer epoch, so that a job restored from this snapshot succeeds
     * it ({@link PersistFrontier#claim}), and the keys held across this checkpoint (catch-up hold).
     */
    @Override
    public List<WriterState> snapshotState(long checkpointId) throws IOException {
        return List.of(new WriterState(epoch, subtask, parallelism, releasable, positions, List.copyOf(frontiers),
                consolidator.snapshot()));
    }


    @Override
    public void close() throws Exception {
        try (StoreHandle h = handle; FrontierPublisher p = publisher; WindowedExecutor e = executor) {
            // stops the storage operations, then the frontier thread, then closes the store
        }
    }
}
