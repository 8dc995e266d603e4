package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.upsertfeedback.operators.testing.DifferentialScenario.put;
import static io.upsertfeedback.operators.testing.DifferentialScenario.row;
import static io.upsertfeedback.operators.testing.DifferentialScenario.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bugs of the frontier protocol, each pinned by the smallest input that showed it and checked
 * against the SPEC model (the failure-free run), on both state backends. Each failed on the
 * operator before the fix.
 */
class FrontierProtocolTest {
    private static final UpsertOptions OPTIONS = UpsertOptions.defaults().withTick(Duration.ofMillis(1))
            .withLead(Duration.ofDays(365));
    private static final long T = 1_700_000_000_000L;

    /**
     * SPEC 3.9: a job resubmitted from a checkpoint ({@code flink run -s}) while the store moved on
     * read the store's newer positions at build time, and the restored operator dropped replayed
     * commands below them although its restored state never saw them: {@code k} ended as
     * {@code b}, the update back to {@code a} suppressed as equal.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void restoreAgainstAStoreThatMovedOnDropsNoReplayedCommand(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS)) {
            s.storeFrontier(0);
            s.command(put("k", "a", 0, 1000)).inputFrontier(1001);
            DifferentialScenario.Snapshot checkpoint = s.snapshot();
            s.command(put("k", "b", 1, 2000)).inputFrontier(2001);
            assertEquals(Map.of(0, 2L), s.driver().lastProgress().positions(), "the store's positions after b");
            s.failAndRestore(checkpoint, OPTIONS.withResumePositions(Map.of(0, 2L)));
            s.persistFrontier(2001);
            s.command(put("k", "a", 2, 3000)).inputFrontier(3001);
            s.assertCollection(rows(row("k", "a", 1000), 1, row("k", "a", 2000), -1, row("k", "b", 2000), 1,
                    row("k", "b", 3000), -1, row("k", "a", 3000), 1));
        }
    }

    /**
     * SPEC 3.4 (the positions recorded with {@code P}): a local run killed in its final flush and
     * resumed lost 664 of 1,804 keys. The store took a partition's position from the subtasks that
     * gave one, though another had seen no command of it yet (its commands of the partition still
     * on their way), and the resumed job skipped them. The store now keeps a partition only where
     * every subtask gives a position; so a subtask that has seen nothing of a partition gives the
     * position its job started from, or a resumed job's next resume would lose the partition's
     * position and read it from the source's starting offsets.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void aSubtaskThatSawNoCommandOfAPartitionGivesThePositionItsJobStartedFrom(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS.withResumePositions(Map.of(0, 5L, 1, 7L)), 2)) {
            s.storeFrontier(1000);
            s.command(put("k", "v", 0, 5, 1000)).inputFrontier(1001);
            for (var driver : s.drivers()) {
                assertEquals(7L, driver.lastProgress().positions().get(1), "partition 1: " + driver.lastProgress());
            }
            assertEquals(Map.of(0, 5L, 1, 7L), s.storePositions());
            s.assertCollection(rows(row("k", "v", 1000), 1));
        }
    }

    /**
     * SPEC 3.10: while the store's {@code P} is not known the operator emitted {@code min(I, held)
     * - 1}; the sink wrote it and the store's {@code P} went backwards (here 1000 -> 500), or, with
     * the command input ended first, to {@code +inf} with no positions. Nothing may be emitted and
     * no watermark may move until {@code P} is known.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void nothingIsEmittedUntilThePersistFrontierIsKnown(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS.withResumePositions(Map.of(0, 5L)))) {
            s.prior(put("k", "stored", 4, 900));
            s.command(put("k", "new", 5, 1000)).inputFrontier(500);
            assertTrue(s.driver().output().isEmpty(), "emitted before P is known: " + s.driver().output());
            s.inputFrontier(Long.MAX_VALUE);
            assertTrue(s.driver().output().isEmpty(), "emitted before P is known: " + s.driver().output());
            s.storeFrontier(1000);
            assertTrue(s.driver().output().stream().filter(Update::isProgress).allMatch(u -> u.time() >= 1000),
                    "a frontier below the store's P: " + s.driver().output());
            s.assertCollection(rows(row("k", "stored", 1000), -1, row("k", "new", 1000), 1));
        }
    }

    /**
     * SPEC 2, {@code ../shared/cases/partition-move.jsonl}: a key whose records move to a
     * lower-numbered partition was frozen (the order key compared the partition first), and
     * across two partitions arrival order decided. Order {@code (t, partition, offset)}: {@code k}
     * ends as {@code three}, whichever partition is read first.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void keyMovingToALowerPartitionIsOrderedByTime(Backend backend) throws Exception {
        List<UpsertCommand> partition1 = List.of(put("k", "one", 1, 0, T));
        List<UpsertCommand> partition0 = List.of(put("k", "two", 0, 0, T + 5000), put("k", "three", 0, 1, T + 10000),
                put("other", "x", 0, 2, T + 10000));
        for (List<List<UpsertCommand>> order : List.of(List.of(partition1, partition0), List.of(partition0, partition1))) {
            try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS)) {
                s.endFeedback();
                for (List<UpsertCommand> partition : order) {
                    for (UpsertCommand command : partition) {
                        s.command(command);
                    }
                }
                s.inputFrontier(T + 10001);
                s.assertCollection(rows(row("k", "one", T), 1, row("k", "one", T + 5000), -1, row("k", "two", T + 5000), 1,
                        row("k", "two", T + 10000), -1, row("k", "three", T + 10000), 1, row("other", "x", T + 10000), 1));
            }
        }
    }

    /**
     * SPEC 3.10: a store whose {@code P} is {@code +inf} (a bounded run, {@code stop --drain}) made
     * every later job a no-op: the fresh operator adopted {@code S = +inf} and retimed every
     * command to {@code +inf}. A new job resumes at the recorded positions and applies new commands
     * at their times.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void finishedStoreResumesAtTheRecordedPositions(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS.withResumePositions(Map.of(0, 1L)))) {
            s.prior(put("k", "a", 0, 1000));
            s.storeFrontier(Long.MAX_VALUE);
            s.command(put("k", "a", 0, 1000));
            s.command(put("k", "b", 1, 2000)).command(put("j", "c", 2, 2000)).inputFrontier(2001);
            s.assertCollection(rows(row("k", "a", 2000), -1, row("k", "b", 2000), 1, row("j", "c", 2000), 1));
            assertEquals(1, s.driver().operator().droppedBelowResumePositionCount());
        }
    }

    /**
     * A quiet topic held its last tick forever: with out-of-orderness 0 the input frontier is the
     * last tick, so its commands drained only when a later record came, and idleness never
     * advanced time. Once the whole command input is idle, {@code I} moves past the latest command.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void quietTopicDrainsItsLastTickOnceIdle(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, OPTIONS)) {
            s.storeFrontier(0);
            s.command(put("k", "a", 0, 1000)).command(put("k", "b", 1, 2000)).inputFrontier(2000);
            assertEquals(rows(row("k", "a", 1000), 1), s.actual(), "the last tick waits for a later record or idleness");
            s.inputIdle();
            s.assertCollection(rows(row("k", "a", 1000), 1, row("k", "a", 2000), -1, row("k", "b", 2000), 1));
            assertEquals(2001, s.driver().outputFrontier());
        }
    }

    /**
     * A delete came undone after the input went idle (found by {@link RandomizedDifferentialTest} once
     * it made the input go idle, and in a new user's bounded run with {@code ingest.watermark.idleness:
     * 50 ms} that exited 0 with older values in the store). Partition 0 holds {@code k = a @ (5, p0,
     * o0)} and a delete at {@code (6, p0, o1)}; partition 1 is behind, {@code k = b @ (3, p1, o0)}
     * not read yet. The input goes idle: {@code I} moves past 6, the pass drains {@code +a} and
     * {@code -a}, and the key's state, empty, was cleared with the delete's order key. Then
     * {@code b} arrived, compared with nothing, and was applied at the state frontier: {@code k = b}.
     * SPEC 2 keeps {@code k} absent (the delete's order key is higher), so a deleted key keeps its
     * order key ({@link KeyState#isEmpty}).
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void aDeleteStaysWhenAnOlderPutArrivesAfterTheInputWentIdle(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, UpsertOptions.defaults())) {
            s.timingDependent();
            s.storeFrontier(Frontiers.EMPTY_STORE);
            s.command(put("k", "a", 0, 0, 5))
                    .command(UpsertCommand.delete("k".getBytes(StandardCharsets.UTF_8), 0, 1, 6))
                    .inputIdle();
            s.command(put("k", "b", 1, 0, 3));
            s.endInputAndAssertComplete("after the input went idle and partition 1 came back");
        }
    }

    /**
     * A key's updates went back in time after a restore (found by {@link RandomizedDifferentialTest}'s
     * idle runs: "invariant 6 violated: key k1 at time 3 accumulates to z x-1, x x1"). Each subtask's
     * input goes idle on its own: subtask A, whose latest command is at 8, moves its {@code I} to 9
     * and drains {@code k = a @ (3, p1, o0)}, which arrived behind its state frontier, at 6; subtask
     * B, which has seen nothing, stays behind. A restore merges the subtasks' frontiers at their
     * minimum, so A's state frontier drops below 6, and {@code k = b @ (3, p1, o1)} (newer: same
     * partition, higher offset) drained at 3: {@code -a} at 3, below the {@code +a} at 6. A key's
     * next command now never drains below its last one ({@link KeyState#drainedTime}).
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void aKeysUpdatesNeverGoBackInTimeWhenARestoreMergesSubtasksThatWentIdleApart(Backend backend) throws Exception {
        UpsertOptions options = UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(null);
        try (DifferentialScenario s = new DifferentialScenario(backend, options, 2)) {
            s.timingDependent();
            String other = sameSubtaskAs("k", 2);
            s.storeFrontier(Frontiers.EMPTY_STORE);
            s.command(put(other, "h", 0, 0, 5)).inputIdle();
            s.command(put("k", "a", 1, 0, 3)).command(put(other, "h2", 0, 1, 8)).inputIdle();
            assertEquals(List.of("k@6"), s.updateTimes().stream().filter(u -> u.startsWith("k@")).toList(),
                    "k = a drained at subtask A's state frontier 6");
            s.failAndRestore(s.snapshot());
            s.command(put("k", "b", 1, 1, 3));
            s.endInputAndAssertComplete("after a restore merged subtasks that went idle apart");
        }
    }

    /**
     * A command that arrived behind {@code I} after the input went idle was applied at a time off
     * the tick (a new user's dump showed {@code 10:00:05.001} at a 1 s tick): idleness moved
     * {@code I} to the latest command's time plus 1 ms, and the late command drained at that
     * state frontier. SPEC 2 coarsens every time to a tick, so idleness now moves {@code I} to the
     * next tick.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void aCommandLateAfterIdlenessIsAppliedOnATick(Backend backend) throws Exception {
        UpsertOptions options = UpsertOptions.defaults().withTick(Duration.ofSeconds(1)).withLead(null);
        try (DifferentialScenario s = new DifferentialScenario(backend, options)) {
            s.timingDependent();
            s.storeFrontier(Frontiers.EMPTY_STORE);
            s.command(put("k", "a", 0, 0, 5_000)).inputIdle();
            s.command(put("j", "b", 1, 0, 3_000));
            s.endInputAndAssertComplete("after a late command");
            assertEquals(List.of("k@5000", "j@6000"), s.updateTimes(), "k at its time, j at the next tick after it");
        }
    }

    /** A key that Flink's key-group assignment gives the same subtask as {@code key} at {@code parallelism}. */
    private static String sameSubtaskAs(String key, int parallelism) {
        int subtask = KeyGroupRangeAssignment.assignKeyToParallelOperator(key, OperatorDriver.MAX_PARALLELISM, parallelism);
        for (int i = 0; ; i++) {
            String candidate = "h" + i;
            if (KeyGroupRangeAssignment.assignKeyToParallelOperator(candidate, OperatorDriver.MAX_PARALLELISM, parallelism) == subtask) {
                return candidate;
            }
        }
    }
}
