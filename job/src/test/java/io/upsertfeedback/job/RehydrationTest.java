package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.upsertfeedback.job.LoopHarness.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 5, resuming: a fresh job with no checkpoint rebuilds its prior values from the store
 * (rehydration) and resumes the topic at the positions recorded with {@code P}; a savepoint
 * restarts at another parallelism; a second job on a running job's store fails fast (fencing).
 */
class RehydrationTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = LoopHarness.miniCluster(4);

    @RegisterExtension
    static final LoopHarness harness = new LoopHarness();

    /**
     * 10,000 commands on 1,000 keys over 20 ticks; the job is cancelled (no savepoint) once
     * {@code P} passed a random tick; a fresh job on the same topic and store finishes the input.
     * The store equals the oracle, the fresh job loaded every stored key before draining and emitted
     * no update at a time below the old {@code P} (those are in the store already).
     */
    @Test
    void freshJobRehydratesFromTheStore(@TempDir Path dir) throws Exception {
        long seed = Long.getLong("loop.seed", new Random().nextLong());
        System.out.println("RehydrationTest seed " + seed + " (reproduce with -Dloop.seed=" + seed + ")");
        Random random = new Random(seed);
        Configuration conf = harness.conf("rehydrate", dir, 4, Duration.ofSeconds(2));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("rehydrate", input, 10_000, 1_000, 500, T0, random);

        JobClient first = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null);
        long cancelAfter = T0 + (2 + random.nextInt(14)) * 1000L;
        LoopHarness.awaitFrontierPast(conf, first, cancelAfter, Duration.ofSeconds(60));
        LoopHarness.cancelQuietly(first);
        long oldP = LoopHarness.frontier(conf);
        int stored;
        try (StoreHandle store = Stores.open(conf, "loop-test-reader")) {
            stored = store.store().snapshot().size();
        }
        System.out.println("cancelled at P = T0 + " + (oldP - T0) + " ms with " + stored + " keys stored");
        assertTrue(oldP > cancelAfter && oldP <= input.maxTime, "cancelled mid-run");

        long loadedBefore = ProgressMetrics.sum("Source: feedback", "feedbackKeysLoaded");
        CommittedChangelog changelog = new CommittedChangelog("rehydrate");
        JobClient second = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, changelog, null);
        LoopHarness.awaitFinished(second, Duration.ofSeconds(90));
        long latency = ProgressMetrics.latestMax(second.getJobID(), "Source: feedback", "rehydrationLatencyMs").orElseThrow();
        assertTrue(latency >= 0, "rehydration latency reported: " + latency);
        long loaded = ProgressMetrics.sum("Source: feedback", "feedbackKeysLoaded") - loadedBefore;
        System.out.println("rehydration: " + loaded + " keys loaded in " + latency + " ms");

        assertEquals(stored, loaded, "every stored key was fed to the operator");
        LoopHarness.assertStore(conf, input.expected());
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(conf));
        long belowOldP = changelog.updates().stream().filter(u -> u.time() < oldP).count();
        assertEquals(0, belowOldP, "updates at times below the old P are in the store already; none is emitted again");
        assertTrue(changelog.updates().stream().anyMatch(u -> u.time() >= oldP), "the fresh job finished the input");
    }

    /**
     * Bug pinned: after a failover that restored a checkpoint taken once rehydration had finished,
     * the feedback source's {@code rehydrationLatencyMs} gauge read {@code -1} for the rest of the
     * job (a CI run waited for it for a minute). A fresh job on a half-written store fails once in
     * its operator, after checkpoints, late enough that rehydration is long done; its gauge still
     * reports the latency, and the store equals the oracle.
     */
    @Test
    void aFailoverAfterRehydrationKeepsTheRehydrationLatency(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("rehydrate-failover", dir, 4, Duration.ofSeconds(2));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("rehydrate-failover", input, 10_000, 1_000, 500, T0, new Random(11));
        JobClient first = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null);
        LoopHarness.awaitFrontierPast(conf, first, T0 + 4_000, Duration.ofSeconds(60));
        LoopHarness.cancelQuietly(first);

        InjectedFailures failure = InjectedFailures.plan("rehydrate-failover", new Random(11), 1,
                Map.of(InjectedFailures.Point.OPERATOR, 3_000L));
        JobClient second = LoopHarness.submit(conf, 2, failure.hooks(), null, null);
        LoopHarness.awaitFinished(second, Duration.ofSeconds(90));
        assertEquals(1, failure.fired(), failure.describe());
        long latency = ProgressMetrics.latestMax(second.getJobID(), "Source: feedback", "rehydrationLatencyMs").orElseThrow();
        assertTrue(latency >= 0, "rehydration latency after the failover: " + latency);
        LoopHarness.assertStore(conf, input.expected());
    }

    /**
     * 10,000 commands; stop with a savepoint at parallelism 1, restart from it at once at 2, stop
     * with a savepoint again, finish at 1. The store equals the oracle. The writer lease is 30 s
     * and each job is submitted right after the stop: before the fix (issue 13) the stopped job's
     * live lease fenced its own successor off, which then failed without restarts.
     */
    @Test
    void savepointRestartsAtAnotherParallelismWithoutWaitingForTheLease(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("rescale", dir, 4, Duration.ofSeconds(2));
        conf.set(TieredStoreSink.WRITER_LEASE, Duration.ofSeconds(30));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("rescale", input, 10_000, 1_000, 400, T0, new Random(5));

        String savepoint = null;
        int[] parallelisms = {1, 2, 1};
        for (int i = 0; i < parallelisms.length; i++) {
            JobClient job = LoopHarness.submit(conf, parallelisms[i], Pipeline.Hooks.NONE, null, savepoint);
            if (i == parallelisms.length - 1) {
                LoopHarness.awaitFinished(job, Duration.ofSeconds(90));
                break;
            }
            LoopHarness.awaitFrontierPast(conf, job, T0 + (i + 1) * 6_000L, Duration.ofSeconds(60));
            savepoint = job.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL)
                    .get(60, TimeUnit.SECONDS);
        }
        LoopHarness.assertStore(conf, input.expected());
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(conf));
    }

    /**
     * A second job on a store another job is writing fails fast, naming the store and the running
     * writer; the first job finishes undisturbed and its store equals the oracle.
     */
    @Test
    void secondWriterFailsFast(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("fenced", dir, 4, Duration.ofSeconds(2));
        conf.set(TieredStoreSink.WRITER_LEASE, Duration.ofSeconds(30));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("fenced", input, 10_000, 1_000, 400, T0, new Random(3));

        JobClient first = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null);
        LoopHarness.awaitFrontierPast(conf, first, T0, Duration.ofSeconds(60));
        String writer;
        try (StoreHandle store = Stores.open(conf, "loop-test-reader")) {
            writer = store.frontier().leaseHolder();
        }
        long start = System.nanoTime();
        JobClient second = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null);
        ExecutionException failure = assertThrows(ExecutionException.class,
                () -> second.getJobExecutionResult().get(60, TimeUnit.SECONDS));
        long failedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        String message = ExceptionUtils.stringifyException(failure);
        System.out.println("second writer failed after " + failedAfter + " ms");
        assertTrue(message.contains("store bigtable local/local/fenced"), "the error names the store:\n" + message);
        assertTrue(message.contains(writer), "the error names the running writer " + writer + ":\n" + message);
        assertTrue(failedAfter < 30_000, "fails fast, not after the lease");

        LoopHarness.awaitFinished(first, Duration.ofSeconds(90));
        LoopHarness.assertStore(conf, input.expected());
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(conf));
    }

    /**
     * SPEC 3.10 through the whole job: a bounded run leaves the store at {@code P = +inf}; a second
     * job on that store resumes at the recorded positions and applies new records at their times,
     * here the same record times as the first run's (older than what the store holds: each key's
     * stored time in its partition raises them). Before the fix, the fresh operator adopted
     * {@code S = +inf}, retimed every command to {@code +inf} and never drained one.
     */
    @Test
    void finishedStoreIsResumedAtItsPositions(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("finished", dir, 2, null);
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("finished", input, 2_000, 200, 200, T0, new Random(11));
        LoopHarness.awaitFinished(LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null), Duration.ofSeconds(90));
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(conf), "a finished run");
        harness.produce("finished", input, 2_000, 200, 200, T0, new Random(12));
        LoopHarness.awaitFinished(LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null), Duration.ofSeconds(90));
        LoopHarness.assertStore(conf, input.expected());
    }

    /**
     * A store whose writer died before every sink subtask had acknowledged a position records none
     * for some partitions (here none at all: subtask 1 acknowledged nothing), and a job on it read
     * those partitions from {@code kafka.starting-offsets}: with {@code latest} it skipped every
     * command the store never got and finished on an empty store. On a store a job has written to,
     * a partition without a recorded position starts at its earliest offset.
     */
    @Test
    void aPartitionWithoutARecordedPositionIsReadFromItsEarliestOffsetWhateverTheStartingOffsets(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("unrecorded", dir, 2, null);
        conf.set(KafkaIngestOptions.STARTING_OFFSETS, KafkaIngestOptions.StartingOffsets.LATEST);
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("unrecorded", input, 2_000, 200, 200, T0, new Random(13));
        try (PersistFrontier frontier = Stores.openFrontier(conf)) {
            PersistFrontier.Lease first = frontier.claim("killed-job", 0, 2, Duration.ofMillis(200));
            frontier.claim("killed-job", 1, 2, Duration.ofMillis(200));
            first.advance(new FrontierState(T0, Map.of(0, 1_000L, 1, 1_000L)));
        }
        LoopHarness.awaitFinished(LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null), Duration.ofSeconds(90));
        LoopHarness.assertStore(conf, input.expected());
    }

    /**
     * SPEC section 2 through the whole job ({@code ../shared/cases/partition-move.jsonl} plus times
     * going back): {@code k} moves from partition 1 to partition 0 and ends as {@code three}
     * (before the fix it froze at {@code one}: the order key compared the partition first); in
     * partition 0 the record times of {@code j} go back, and its later offset still wins.
     */
    @Test
    void keyMovingToAnotherPartitionAndTimesGoingBack(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("moved", dir, 2, null);
        harness.send("moved", new LoopHarness.Sent(1, T0, "k", "one"), new LoopHarness.Sent(0, T0 + 5_000, "k", "two"),
                new LoopHarness.Sent(0, T0 + 10_000, "k", "three"), new LoopHarness.Sent(0, T0 + 10_000, "other", "x"),
                new LoopHarness.Sent(0, T0 + 12_000, "j", "early"), new LoopHarness.Sent(0, T0 + 11_000, "j", "late"));
        LoopHarness.awaitFinished(LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null), Duration.ofSeconds(90));
        LoopHarness.assertStore(conf, Map.of("k", "three/5", "other", "x/1", "j", "late/4"));
    }
}
