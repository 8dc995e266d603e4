package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.Faults;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.LeaseWatch;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.RangeReader;
import io.upsertfeedback.connectors.store.Retrier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.connectors.store.bigtable.BigtableFrontier;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.connectors.store.localdir.LocalDirectoryLongTermTier;
import io.upsertfeedback.operators.Frontiers;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One sink writer over fault-injected tiers: the bounded window blocks the writer (backpressure),
 * the frontier waits for every operation below it, one failing operation neither fails its
 * neighbours nor lets the frontier pass it, transient errors are retried, and updates consolidate
 * per (key, time) as a sum of diffs. Blocking is done with latches inside storage calls, never with
 * sleeps; every frontier write is recorded, so the absence of an early one is checked, not assumed.
 */
class TieredStoreSinkWriterTest {
    private static final int WINDOW = 2;

    @TempDir
    Path dir;

    private final Faults.Plan faults = new Faults.Plan();
    private final CountDownLatch release = new CountDownLatch(1);
    private final Semaphore entered = new Semaphore(0);
    /** The task's mailbox: actions the writer hands to its task thread, run here by the test thread. */
    private final java.util.concurrent.BlockingQueue<Runnable> mailbox = new java.util.concurrent.LinkedBlockingQueue<>();
    private final List<Long> advanced = java.util.Collections.synchronizedList(new ArrayList<>());
    private TieredStore store;
    private PersistFrontier frontier;
    private TieredStoreSinkWriter writer;
    /** The task's processing-time service: its clock moves only when a test advances it, and then fires the timers due. */
    private ManualTimers timers = new ManualTimers(0);

    @BeforeEach
    void setUp() throws Exception {
        faults.beforeEach("advance", args -> advanced.add(((FrontierState) args[0]).p()));
        open(TestBigtable.freshTable("writer"), 1, 1);
    }

    /** A writer with its own store over {@code table}, batches of {@code batchSize} and {@code consolidation} groups, no catch-up hold. */
    private void open(String table, int batchSize, int consolidation) throws Exception {
        open(table, batchSize, consolidation, Duration.ZERO, 0, 1, List.of());
    }

    /** The same, with a catch-up hold, as subtask {@code subtask} of {@code parallelism}, restored from {@code restored}. */
    private void open(String table, int batchSize, int consolidation, Duration catchUpMaxHold, int subtask, int parallelism,
                      List<WriterState> restored) throws Exception {
        HighVolumeTier hv = new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
        LongTermTier lt = new LocalDirectoryLongTermTier(dir, RangeReader.Settings.defaults());
        store = new TieredStore(Faults.wrap(HighVolumeTier.class, hv, faults), Faults.wrap(LongTermTier.class, lt, faults), 1024,
                new Retrier(3, Duration.ofMillis(1), Duration.ofMillis(2)), 16, "epoch/0/a", null);
        PersistFrontier real = new BigtableFrontier(TestBigtable.connection(), table, "test-store", false);
        frontier = new PersistFrontier() { // every lease's calls pass the fault plan, which records them
            @Override
            public FrontierState read() throws IOException {
                return real.read();
            }

            @Override
            public LeaseWatch.Observation observeLease() throws IOException {
                return real.observeLease();
            }

            @Override
            public Lease claim(String epoch, Set<String> predecessors, int subtask, int parallelism, Duration lease) throws IOException {
                return Faults.wrap(Lease.class, real.claim(epoch, predecessors, subtask, parallelism, lease), faults);
            }

            @Override
            public void close() throws IOException {
                real.close();
            }
        };
        timers = new ManualTimers(timers.getCurrentProcessingTime()); // a closed writer's timers do not fire
        writer = new TieredStoreSinkWriter(new StoreHandle(store, frontier, "test-store"),
                frontier.claim("epoch", subtask, parallelism, Duration.ofMinutes(1)), "epoch", subtask, parallelism,
                new TieredStoreSinkWriter.Settings(WINDOW, batchSize, consolidation, Long.MAX_VALUE, Duration.ofMinutes(1), catchUpMaxHold),
                restored, mailbox::add, timers, new UnregisteredMetricsGroup());
    }

    @AfterEach
    void tearDown() throws Exception {
        release.countDown();
        writer.close();
    }

    private void blockNextPut() {
        faults.before("putAll", () -> {
            entered.release();
            assertTrue(release.await(60, TimeUnit.SECONDS));
        });
    }

    private static Update insert(String key, String value, long time) {
        return insert(key, value, time, time);
    }

    private static Update insert(String key, String value, long time, long offset) {
        return Update.insert(key.getBytes(UTF_8), UpsertValue.of(value.getBytes(UTF_8)), time, 0, offset);
    }

    private static Update retract(String key, String value, long time) {
        return retract(key, value, time, time);
    }

    private static Update retract(String key, String value, long time, long offset) {
        return Update.retract(key.getBytes(UTF_8), UpsertValue.of(value.getBytes(UTF_8)), time, 0, offset);
    }

    private String stored(String key) throws IOException {
        return store.get(key.getBytes(UTF_8)).map(e -> new String(e.value().bytes(), UTF_8)).orElse(null);
    }

    private long calls(String method) {
        return faults.calls().stream().filter(method::equals).count();
    }

    @Test
    void aFullWindowBlocksTheWriterUntilStorageAcknowledges() throws Exception {
        blockNextPut();
        blockNextPut();
        CompletableFuture<Void> writes = new CompletableFuture<>();
        Thread task = new Thread(() -> {
            try {
                // with a consolidation buffer of one group, each new key sends the previous one to storage
                for (int k = 1; k <= 4; k++) {
                    writer.write(insert("k" + k, "v" + k, 1), null);
                }
                writes.complete(null);
            } catch (Exception e) {
                writes.completeExceptionally(e);
            }
        });
        task.start();
        assertTrue(entered.tryAcquire(2, 60, TimeUnit.SECONDS), "two operations fill the window");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (task.getState() != Thread.State.TIMED_WAITING && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(Thread.State.TIMED_WAITING, task.getState(), "the third operation waits for a permit");
        assertFalse(writes.isDone(), "the writer is blocked: backpressure");
        release.countDown();
        writes.get(60, TimeUnit.SECONDS);
        writer.flush(false);
        for (int k = 1; k <= 4; k++) {
            assertEquals("v" + k, stored("k" + k));
        }
    }

    @Test
    void theFrontierWaitsForEveryOperationBelowIt() throws Exception {
        blockNextPut();
        writer.write(insert("slow", "v", 5), null);
        writer.write(insert("fast", "v", 5), null);
        writer.writeWatermark(new Watermark(5));
        assertTrue(entered.tryAcquire(60, TimeUnit.SECONDS));
        writer.write(insert("later", "v", 6), null);
        writer.writeWatermark(new Watermark(6));
        // every operation but the slow one completed and handed its progress to the publisher, and
        // the publisher ran everything it was given: had it released a mark, it would be written now
        await("the operations above the slow one", () -> writer.executor().inUse() == 1);
        writer.publisher().awaitQueued();
        assertEquals(List.of(), advanced, "nothing acknowledged while an operation below is pending");
        assertEquals(Long.MIN_VALUE, frontier.read().p());
        release.countDown();
        writer.flush(false);
        assertEquals(7L, frontier.read().p());
        assertEquals("v", stored("slow"));
    }

    /**
     * SPEC 4.7: a failing operation does not fail the operations in flight beside it. Both writes
     * are held at the store until both are in flight (before, on a quiet machine the first one had
     * already failed when the second was due, and the writer rightly submits nothing after a known
     * failure, so the test saw no neighbour at all). Then one fails permanently: the other lands,
     * the failure is thrown naming the store, {@code P} stays, and the job fails.
     */
    @Test
    void aFailedOperationDoesNotFailItsNeighboursAndStopsTheFrontier() throws Exception {
        CountDownLatch bothInFlight = new CountDownLatch(2);
        faults.beforeEach("putAll", args -> {
            bothInFlight.countDown();
            assertTrue(bothInFlight.await(30, TimeUnit.SECONDS), "the second write reached the store");
        });
        faults.on("putAll", 0, Faults.Kind.PERMANENT);
        writer.write(insert("a", "va", 1), null);
        writer.write(insert("b", "vb", 1), null);
        // the failure surfaces at the first writer call after it happened: the watermark, or at the latest the flush
        IOException failure = assertThrows(IOException.class, () -> {
            writer.writeWatermark(new Watermark(1));
            writer.flush(false);
        });
        writer.executor().awaitIdle(); // the neighbour may still be in flight when the watermark call threw
        assertTrue(failure.getMessage().contains("test-store"), failure.getMessage());
        assertTrue(("va".equals(stored("a"))) != ("vb".equals(stored("b"))), "exactly the other operation succeeded");
        assertEquals(Long.MIN_VALUE, frontier.read().p(), "the frontier never passes a failed write");
        assertThrows(IOException.class, () -> writer.write(insert("c", "vc", 2), null), "the job fails");
    }

    @Test
    void aKeyOverTheStoreLimitFailsTheJobAndNeverLetsTheFrontierPassItsTime() throws Exception {
        writer.write(insert("ok", "v", 4), null);
        writer.write(Update.insert(new byte[TieredStore.MAX_KEY_BYTES + 1], UpsertValue.of(new byte[] {1}), 5, 0, 9), null);
        writer.writeWatermark(new Watermark(Long.MAX_VALUE));
        IOException failure = assertThrows(IOException.class, () -> writer.flush(true));
        assertTrue(failure.getMessage().contains("test-store"), failure.getMessage());
        assertTrue(frontier.read().p() <= 5, "P never passes the time of the failed write: " + frontier.read().p());
        assertTrue(advanced.stream().allMatch(p -> p <= 5), "no frontier above 5 was ever written: " + advanced);
    }

    @Test
    void transientErrorsAreRetried() throws Exception {
        faults.on("putAll", 0, Faults.Kind.TRANSIENT);
        faults.on("compareAndWrite", 0, Faults.Kind.LOST_RESPONSE);
        writer.write(insert("a", "va", 1), null);
        byte[] big = new byte[4096];
        new java.util.Random(1).nextBytes(big);
        writer.write(Update.insert("big".getBytes(UTF_8), UpsertValue.of(big), 1, 0, 2), null);
        writer.write(Update.progress(2, Map.of(0, 3L)), null);
        writer.writeWatermark(new Watermark(1));
        writer.flush(false);
        assertEquals("va", stored("a"));
        assertTrue(store.retrier().retries() >= 2, "one transient failure and one lost response");
        assertEquals(1, store.metrics().tombstonePuts.sum());
        assertEquals(new FrontierState(2L, Map.of(0, 3L)), frontier.read());
    }

    @Test
    void updatesConsolidatePerKeyAndTime() throws Exception {
        writer.write(insert("k", "v1", 1), null);
        writer.writeWatermark(new Watermark(1));
        writer.write(retract("k", "v1", 2), null);
        writer.write(insert("k", "v2", 2), null);
        writer.writeWatermark(new Watermark(2));
        writer.flush(false);
        assertEquals("v2", stored("k"));
        assertEquals(2, calls("putAll"), "a -old/+new pair is one write");
        writer.write(retract("k", "v2", 3), null);
        writer.flush(false);
        assertEquals(null, stored("k"), "a lone -old is a delete");
        assertEquals(3, calls("putAll"));
        assertEquals(0, calls("compareAndWrite"), "inline values over inline values need no condition");
    }

    /**
     * SPEC 3.12, catch-up: while storage is busy, a key's updates at a hundred times wait in the
     * sink and become one write. Before, every {@code (key, time)} was its own write, so a backlog
     * whose record times span a day wrote every version of every key and drained at a third of
     * the speed of the same commands in one tick.
     */
    @Test
    void whileStorageIsBusyAKeysUpdatesAtManyTimesBecomeOneWrite() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("collapse"), 10, 1000);
        blockNextPut();
        blockNextPut();
        writer.write(insert("x", "x1", 1), null);
        writer.writeWatermark(new Watermark(1));
        writer.write(insert("y", "y2", 2), null);
        writer.writeWatermark(new Watermark(2));
        assertTrue(entered.tryAcquire(2, 60, TimeUnit.SECONDS), "both places of the window are held at the store");
        writer.write(insert("k", "v3", 3), null);
        writer.writeWatermark(new Watermark(3));
        for (int t = 4; t <= 102; t++) {
            writer.write(retract("k", "v" + (t - 1), t), null);
            writer.write(insert("k", "v" + t, t), null);
            writer.writeWatermark(new Watermark(t));
        }
        assertEquals(2, calls("putAll"), "nothing more is sent while the window is full");
        release.countDown();
        Runnable mail = mailbox.poll(60, TimeUnit.SECONDS);
        assertTrue(mail != null, "a completed operation hands the held writes to the task thread");
        mail.run();
        writer.executor().awaitIdle();
        assertEquals("v102", stored("k"));
        assertEquals(3, calls("putAll"), "k's 199 updates at 100 times are one write");
        await("the frontier past every watermark", () -> frontierP() == 103L);
    }

    /**
     * A key's updates summed across times after a restore, when the failed attempt already wrote a
     * value in between: the replay's {@code -s1 +L2 @2, -L2 +s3 @3} sums to {@code -s1 +s3}, but
     * the row holds L2's tombstone, so the write must take the conditional path and clean up L2's
     * object (the plain path orphaned it: ExactlyOnceTest); and {@code -s1 +s2 @2, -s2 +s1 @3} sums
     * to nothing, but the row holds s2, so s1 is written again (writing nothing left s2).
     */
    @Test
    void aSumAcrossTimesAfterARestoreOverwritesWhatTheFailedAttemptWroteInBetween() throws Exception {
        writer.close();
        String table = TestBigtable.freshTable("restore");
        open(table, 10, 1000);
        byte[] large = new byte[4096];
        new java.util.Random(5).nextBytes(large);
        UpsertValue l2 = UpsertValue.of(large);
        writer.write(insert("k", "s1", 1), null);
        writer.write(insert("j", "s1", 1), null);
        writer.writeWatermark(new Watermark(1));
        writer.write(retract("k", "s1", 2), null);
        writer.write(Update.insert("k".getBytes(UTF_8), l2, 2, 0, 2), null);
        writer.write(retract("j", "s1", 2), null);
        writer.write(insert("j", "s2", 2), null);
        writer.writeWatermark(new Watermark(2));
        writer.flush(false); // the failed attempt got this far, past the last checkpoint (at time 1)
        writer.close();

        open(table, 10, 1000); // the next attempt replays from the checkpoint's state: k = s1, j = s1
        writer.write(retract("k", "s1", 2), null);
        writer.write(Update.insert("k".getBytes(UTF_8), l2, 2, 0, 2), null);
        writer.write(Update.retract("k".getBytes(UTF_8), l2, 3, 0, 3), null);
        writer.write(insert("k", "s3", 3), null);
        writer.write(retract("j", "s1", 2), null);
        writer.write(insert("j", "s2", 2), null);
        writer.write(retract("j", "s2", 3), null);
        writer.write(insert("j", "s1", 3), null);
        writer.writeWatermark(new Watermark(3));
        writer.flush(false);
        assertEquals("s3", stored("k"));
        assertEquals("s1", stored("j"));
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(dir)) {
            assertEquals(List.of(), files.filter(java.nio.file.Files::isRegularFile).toList(), "L2's object is cleaned up");
        }
    }

    /**
     * Rehydration retimes two replayed commands of a deleted key to P: the operator emits
     * {@code +a@P} then {@code -a@P}. Their sum is nothing, so the key stays deleted; keeping the
     * {@code +a} brought deleted keys back.
     */
    @Test
    void aPutAndItsRetractionAtOneTimeCancelOutWhateverTheirOrder() throws Exception {
        store.delete("k".getBytes(UTF_8), 7, 0, 55);
        writer.write(insert("k", "a", 10, 60), null);
        writer.write(retract("k", "a", 10, 70), null);
        writer.write(retract("j", "old", 10, 71), null);
        writer.write(insert("j", "new", 10, 71), null);
        writer.writeWatermark(new Watermark(10));
        writer.flush(false);
        assertNull(stored("k"), "the deleted key stays deleted");
        assertEquals("new", stored("j"), "a retraction before its insert still leaves the insert");
    }

    @Test
    void writesOfSmallValuesGoInBatchesAndLargeOnesConditionally() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("batches"), 50, 1000);
        byte[] big = new byte[4096];
        new java.util.Random(2).nextBytes(big);
        for (int i = 0; i < 120; i++) {
            writer.write(insert("k" + i, "v" + i, 1), null);
        }
        writer.write(Update.insert("big".getBytes(UTF_8), UpsertValue.of(big), 1, 0, 200), null);
        writer.writeWatermark(new Watermark(1));
        writer.flush(false);
        assertEquals(3, calls("putAll"), "120 inline writes in batches of 50");
        assertEquals(1, calls("compareAndWrite"), "the large value commits its tombstone conditionally");
        assertEquals("v119", stored("k119"));
        assertEquals(2L, frontier.read().p());
    }

    /**
     * Brings the writer into catch-up (SPEC 3.12): the watermark at 1000 when the clock reads 1 s
     * (the first sample only notes it), then at 9000 when it reads 2 s: 8 s of event time in 1 s.
     */
    private void startCatchingUp() throws Exception {
        writer.writeWatermark(new Watermark(1_000));
        timers.advanceTo(1_000);
        writer.writeWatermark(new Watermark(9_000));
        timers.advanceTo(2_000);
    }

    /**
     * A writer (subtask 0 of 1, 30 s catch-up hold) on {@code table} catching up takes
     * {@code updates}, the watermark reaches 20,000, and a checkpoint is taken: returns its writer
     * state; the writer is closed (the attempt failed).
     */
    private List<WriterState> checkpointWhileCatchingUp(String table, Update... updates) throws Exception {
        writer.close();
        open(table, 10, 1000, Duration.ofSeconds(30), 0, 1, List.of());
        startCatchingUp();
        for (Update u : updates) {
            writer.write(u, null);
        }
        writer.writeWatermark(new Watermark(20_000));
        writer.flush(false);
        List<WriterState> state = writer.snapshotState(1);
        writer.close();
        return state;
    }

    private long frontierP() {
        try {
            return frontier.read().p();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * SPEC 3.12: while catching up, a checkpoint keeps a held key in the writer state instead of
     * writing it (writing every held key at every checkpoint made a backlog spread over a day write
     * about one row per command: 0.32 of the one-tick speed); the frontier stays below it; a
     * writer restored from that state writes it, with its sum, and publishes the frontier over it
     * without waiting for a watermark (a restored operator does not emit its watermarks again).
     */
    @Test
    void whileCatchingUpACheckpointKeepsHeldKeysInTheWriterStateNotInTheStore() throws Exception {
        String table = TestBigtable.freshTable("hold");
        List<WriterState> state = checkpointWhileCatchingUp(table,
                insert("k", "a", 9_500), retract("k", "a", 9_700), insert("k", "b", 9_700));
        assertNull(stored("k"), "held across the checkpoint, not written");
        assertEquals(9_001L, frontierP(), "the frontier stays below the held key");
        assertEquals(1, state.size());
        assertTrue(state.get(0).held().length > 0, "the held key is in the writer state");

        open(table, 10, 1000, Duration.ofSeconds(30), 0, 1, state); // the restored attempt: no watermark comes again
        writer.flush(false);
        assertEquals("b", stored("k"));
        assertEquals(20_001L, frontierP());
    }

    @Test
    void whileCatchingUpAHeldKeyIsWrittenOnceHeldForTheMaxHold() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("max-hold"), 10, 1000, Duration.ofSeconds(30), 0, 1, List.of());
        startCatchingUp();
        writer.write(insert("k", "a", 9_500), null);
        long watermark = 9_000;
        for (long clock = 3_000; clock < 32_000; clock += 1_000) { // the watermark keeps outrunning the clock
            watermark += 10_000;
            writer.writeWatermark(new Watermark(watermark));
            timers.advanceTo(clock);
            writer.executor().awaitIdle();
            assertNull(stored("k"), "held at " + clock + " ms");
        }
        watermark += 10_000;
        writer.writeWatermark(new Watermark(watermark));
        timers.advanceTo(32_000); // held since 2 s: 30 s
        writer.executor().awaitIdle();
        assertEquals("a", stored("k"));
    }

    /**
     * Once the watermark stops outrunning the clock for {@link CatchUp#SPAN} windows, held keys are
     * written; a stall shorter than that (a checkpoint, a collection) does not write them: judged on
     * one window, a backlog's stalls wrote every held key again and again.
     */
    @Test
    void whenTheWatermarkStopsOutrunningTheClockHeldKeysAreWrittenOnceTheSpanShowsIt() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("caught-up"), 10, 1000, Duration.ofSeconds(30), 0, 1, List.of());
        startCatchingUp(); // the watermark went from 1000 at 0 s to 9000 at 2 s
        writer.write(insert("k", "a", 9_500), null);
        writer.writeWatermark(new Watermark(10_000));
        timers.advanceTo(4_000); // stalled since 2 s: 9 s of event time in 4 s is still catching up
        writer.executor().awaitIdle();
        assertNull(stored("k"), "a stall of two seconds does not end catching up");
        timers.advanceTo(5_000); // 9 s in 5 s: caught up
        writer.executor().awaitIdle();
        assertEquals("a", stored("k"));
        await("the frontier past the watermark", () -> frontierP() == 10_001L);
    }

    /**
     * A job starting on a backlog held keys only from its first sample on: it wrote the keys of its
     * first window (20,000 to 30,000 per subtask on the 24-hour backlog benchmark), then wrote them
     * again once caught up. Until a sample at least a window after the first watermark judges the
     * pace, the sink holds; a live pace then writes at once.
     */
    @Test
    void theFirstWindowIsHeldUntilTheFirstSampleJudgesThePace() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("first-window"), 10, 1000, Duration.ofSeconds(30), 0, 1, List.of());
        timers.advanceTo(500);
        writer.writeWatermark(new Watermark(1_000));
        writer.write(insert("k", "a", 1_500), null);
        writer.writeWatermark(new Watermark(1_600));
        writer.executor().awaitIdle();
        assertNull(stored("k"), "held until the first sample");
        timers.advanceTo(1_000);
        writer.executor().awaitIdle();
        assertNull(stored("k"), "a sample 500 ms after the first watermark is too soon to judge");
        timers.advanceTo(2_000); // 600 ms of event time in 1.5 s: a live pace
        writer.executor().awaitIdle();
        assertEquals("a", stored("k"));
        await("the frontier past the watermark", () -> frontierP() == 1_601L);
    }

    /**
     * The operator first forwards a fresh store's persist frontier as a watermark; the first window
     * started there, the pace overflowed, and the first five seconds of every backlog were judged
     * live and written (30,000 to 40,000 keys per subtask on the 24-hour backlog benchmark).
     */
    @Test
    void aFreshStoresWatermarkDoesNotStartTheFirstWindow() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("fresh-first-window"), 10, 1000, Duration.ofSeconds(30), 0, 1, List.of());
        timers.advanceTo(200);
        writer.writeWatermark(new Watermark(Frontiers.toWatermark(Frontiers.EMPTY_STORE)));
        timers.advanceTo(500);
        writer.writeWatermark(new Watermark(1_000));
        writer.write(insert("k", "a", 1_500), null);
        writer.writeWatermark(new Watermark(9_000));
        timers.advanceTo(1_000); // 8 s of event time in 0.5 s: catching up
        writer.executor().awaitIdle();
        assertNull(stored("k"), "held while catching up");
    }

    /**
     * While catching up, the markers of written deletes are held back from the committer (removing
     * one costs more than the delete, and a backlog deletes its keys again and again), and handed
     * over at the first checkpoint after the job caught up.
     */
    @Test
    void whileCatchingUpDeletionMarkersAreHandedOverOnlyOnceCaughtUp() throws Exception {
        writer.close();
        open(TestBigtable.freshTable("markers"), 10, 1, Duration.ofSeconds(30), 0, 1, List.of());
        startCatchingUp();
        writer.write(retract("k", "v", 9_500), null); // a delete
        writer.write(insert("j", "w", 9_600), null); // a second key: the consolidator of one writes k out
        writer.writeWatermark(new Watermark(20_000));
        writer.flush(false);
        assertEquals(List.of(), List.copyOf(writer.prepareCommit()), "held back while catching up");
        timers.advanceTo(8_000); // the watermark stood still for five seconds: caught up
        writer.flush(false);
        List<DeleteMarkers> handed = List.copyOf(writer.prepareCommit());
        assertEquals(1, handed.size());
        assertEquals(List.of("k"), handed.get(0).markers().stream().map(m -> new String(m.key(), UTF_8)).toList());
    }

    /**
     * After a rescale Flink hands writer states round: held keys of another subtask's state belong
     * to keys that now reach other subtasks, so they are written before the writer takes input.
     */
    @Test
    void heldKeysRestoredFromAnotherSubtasksStateAreWrittenBeforeAnyInput() throws Exception {
        String table = TestBigtable.freshTable("rescaled");
        List<WriterState> state = checkpointWhileCatchingUp(table, insert("k", "a", 9_500));
        assertNull(stored("k"));

        open(table, 10, 1000, Duration.ofSeconds(30), 1, 2, state);
        assertEquals("a", stored("k"), "written when the writer was restored");
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.onSpinWait();
        }
    }
}
