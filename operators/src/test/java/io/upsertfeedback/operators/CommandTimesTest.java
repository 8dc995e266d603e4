package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.upsertfeedback.operators.testing.DifferentialScenario.put;
import static io.upsertfeedback.operators.testing.DifferentialScenario.row;
import static io.upsertfeedback.operators.testing.DifferentialScenario.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 2's time rule, per partition ({@link CommandTimes}): times from the records alone. */
class CommandTimesTest {
    private static OneInputStreamOperatorTestHarness<UpsertCommand, UpsertCommand> harness(long tick, long outOfOrderness,
                                                                                         OperatorSubtaskState restore,
                                                                                         int parallelism, int subtask)
            throws Exception {
        OneInputStreamOperatorTestHarness<UpsertCommand, UpsertCommand> harness = new OneInputStreamOperatorTestHarness<>(
                new CommandTimes(tick, outOfOrderness), 128, parallelism, subtask);
        harness.setup(UpsertCommandSerializer.INSTANCE);
        if (restore != null) {
            harness.initializeState(restore);
        }
        harness.open();
        return harness;
    }

    private static List<Long> times(OneInputStreamOperatorTestHarness<UpsertCommand, UpsertCommand> harness,
                                    UpsertCommand... commands) throws Exception {
        for (UpsertCommand command : commands) {
            harness.processElement(command, command.time());
        }
        List<Long> times = new ArrayList<>();
        for (Object element : harness.getOutput()) {
            if (element instanceof StreamRecord<?> record) {
                UpsertCommand command = (UpsertCommand) record.getValue();
                assertEquals(command.time(), record.getTimestamp(), "the record's timestamp is its time");
                times.add(command.time());
            }
        }
        harness.getOutput().clear();
        return times;
    }

    /** The running maximum minus the bound, rounded up to a tick; per partition; watermarks pass through. */
    @Test
    void timeIsNeverBehindThePartitionsWatermark() throws Exception {
        try (var h = harness(10, 25, null, 1, 0)) {
            assertEquals(List.of(100L, 100L, 80L, 200L, 180L, 200L, 30L),
                    times(h, put("a", "v", 0, 0, 100), put("b", "v", 0, 1, 100), put("c", "v", 0, 2, 50),
                            put("d", "v", 0, 3, 200), put("e", "v", 0, 4, 170), put("f", "v", 0, 5, 200),
                            put("g", "v", 1, 0, 30)));
            h.processWatermark(new Watermark(29));
            assertTrue(h.getOutput().contains(new Watermark(29)), "watermarks pass through");
        }
    }

    /**
     * SPEC 3.9: restored from a checkpoint, the running maxima are the failed attempt's, so the
     * replay gets the times the failed attempt got. On another parallelism each partition's maximum
     * goes to one of the subtasks (see the class comment of {@link CommandTimes}).
     */
    @Test
    void restoreResumesTheRunningMaxima() throws Exception {
        OperatorSubtaskState checkpoint;
        List<Long> failedAttempt;
        try (var h = harness(1, 0, null, 1, 0)) {
            times(h, put("x", "v", 0, 0, 10), put("y", "v", 1, 0, 40));
            checkpoint = h.snapshot(1, 1);
            failedAttempt = times(h, put("k", "a", 0, 1, 9), put("k", "b", 1, 1, 9));
        }
        assertEquals(List.of(10L, 40L), failedAttempt);
        try (var h = harness(1, 0, checkpoint, 1, 0)) {
            assertEquals(failedAttempt, times(h, put("k", "a", 0, 1, 9), put("k", "b", 1, 1, 9)));
        }
        List<Long> restoredSomewhere = new ArrayList<>(List.of(9L, 9L));
        for (int subtask = 0; subtask < 2; subtask++) {
            OperatorSubtaskState rescaled = AbstractStreamOperatorTestHarness.repartitionOperatorState(checkpoint, 128, 1, 2, subtask);
            try (var h = harness(1, 0, rescaled, 2, subtask)) {
                List<Long> times = times(h, put("k", "a", 0, 1, 9), put("k", "b", 1, 1, 9));
                for (int p = 0; p < 2; p++) {
                    restoredSomewhere.set(p, Math.max(restoredSomewhere.get(p), times.get(p)));
                }
            }
        }
        assertEquals(failedAttempt, restoredSomewhere, "each partition's maximum went to a subtask");
    }

    /**
     * SPEC 3.9, the input: partition 0, {@code x@10}, {@code k=a@9}, {@code k=b@9}; the first
     * attempt sees a watermark after {@code x} and fails after {@code a}; the replay reads all in
     * one burst. Times came from arrival: {@code a} at 10 in the failed attempt, {@code b} at 9 in
     * the replay, which the store refused as older, keeping {@code a}. With the time rule both
     * attempts give 10, and the replay ends with {@code k = b}, as a failure-free run does.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void replayWithOtherWatermarkTimingAssignsTheSameTimes(Backend backend) throws Exception {
        UpsertCommand[] records = {put("x", "v", 0, 0, 10), put("k", "a", 0, 1, 9), put("k", "b", 0, 2, 9)};
        UpsertOptions options = UpsertOptions.defaults().withTick(Duration.ofMillis(1));
        try (var times = harness(1, 0, null, 1, 0);
             DifferentialScenario s = new DifferentialScenario(backend, options)) {
            s.storeFrontier(Frontiers.EMPTY_STORE);
            OperatorSubtaskState timesCheckpoint = times.snapshot(1, 1);
            DifferentialScenario.Snapshot checkpoint = s.snapshot();
            List<UpsertCommand> timed = timed(times, records);
            s.command(timed.get(0)).inputFrontier(10).command(timed.get(1));
            try (var replayTimes = harness(1, 0, timesCheckpoint, 1, 0)) {
                List<UpsertCommand> replayed = timed(replayTimes, records);
                assertEquals(timed.subList(0, 2), replayed.subList(0, 2), "the replay's times are the failed attempt's");
                s.failAndRestore(checkpoint, null, true);
                s.command(replayed.get(2));
            }
            s.inputFrontier(11);
            s.assertCollection(rows(row("x", "v", 10), 1, row("k", "b", 10), 1));
        }
    }

    private static List<UpsertCommand> timed(OneInputStreamOperatorTestHarness<UpsertCommand, UpsertCommand> harness,
                                             UpsertCommand... records) throws Exception {
        for (UpsertCommand record : records) {
            harness.processElement(record, record.time());
        }
        List<UpsertCommand> out = new ArrayList<>();
        for (Object element : harness.getOutput()) {
            if (element instanceof StreamRecord<?> record) {
                out.add((UpsertCommand) record.getValue());
            }
        }
        harness.getOutput().clear();
        return out;
    }
}
