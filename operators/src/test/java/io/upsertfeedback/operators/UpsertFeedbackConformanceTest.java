package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.Consolidation;
import io.upsertfeedback.operators.testing.Consolidation.Row;
import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import io.upsertfeedback.operators.testing.SpecModel;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.upsertfeedback.operators.testing.DifferentialScenario.delete;
import static io.upsertfeedback.operators.testing.DifferentialScenario.put;
import static io.upsertfeedback.operators.testing.DifferentialScenario.row;
import static io.upsertfeedback.operators.testing.DifferentialScenario.rows;
import static io.upsertfeedback.operators.testing.DifferentialScenario.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The conformance suite of issue 2, each scenario on the heap and on the RocksDB state backend.
 * Times are abstract units: tick = lead = 1 ms, so {@code lead = 1} is Materialize's strict
 * {@code t == P}. Every scenario is checked twice: against the {@link SpecModel} (the failure-free
 * run, from the SPEC alone) and against the collection written out by hand from the issue.
 */
class UpsertFeedbackConformanceTest {
    static final UpsertOptions STRICT = UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(Duration.ofMillis(1));

    /** Issue test 1, the Materialize double-retraction repro, with {@code v1@0} drained before {@code P -> 1} as in the original. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void doubleRetractionRepro(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.storeFrontier(0).command(put("k0", "v1", 0, 0)).inputFrontier(1);
            s.persistFrontier(1);
            s.command(delete("k1", 1, 2)).command(put("k0", "v3", 2, 3));
            s.inputFrontier(3);
            s.command(put("k0", "v4", 3, 3));
            s.inputFrontier(4);
            s.persistFrontier(3);
            s.assertCollection(rows(row("k0", "v1", 0), 1, row("k0", "v1", 3), -1, row("k0", "v4", 3), 1));
        }
    }

    /**
     * Issue test 1 taken literally: {@code P -> 1} arrives while {@code v1@0} is still held, i.e.
     * the store claims every time below 1 complete. {@code v1} is then applied at the earliest open
     * time, 1 (SPEC 3.4: S moves up to P; a time behind S is applied at S), never at 0 behind the
     * output watermark; the rest is unchanged and nothing is retracted twice.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void doubleRetractionReproWithPersistFrontierPassingAHeldCommand(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.command(put("k0", "v1", 0, 0));
            s.storeFrontier(1);
            s.command(delete("k1", 1, 2)).command(put("k0", "v3", 2, 3));
            s.inputFrontier(3);
            s.command(put("k0", "v4", 3, 3));
            s.inputFrontier(4);
            s.persistFrontier(3);
            s.assertCollection(rows(row("k0", "v1", 1), 1, row("k0", "v1", 3), -1, row("k0", "v4", 3), 1));
        }
    }

    /** Issue test 2: keys interleaved across timestamps each get their own -old/+new. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void keysInterleavedAcrossTimestamps(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.storeFrontier(0);
            s.command(put("a", "a1", 0, 0)).command(put("b", "b1", 1, 0)).command(put("a", "a2", 2, 1))
                    .command(put("c", "c1", 3, 1)).command(put("b", "b2", 4, 2)).command(put("a", "a3", 5, 2))
                    .command(put("c", "c2", 6, 3)).command(put("b", "b3", 7, 3));
            s.inputFrontier(4);
            for (long p = 1; p <= 4; p++) {
                s.persistFrontier(p);
                s.assertMatchesModel("after P -> " + p);
            }
            s.assertCollection(rows(
                    row("a", "a1", 0), 1, row("a", "a1", 1), -1, row("a", "a2", 1), 1, row("a", "a2", 2), -1, row("a", "a3", 2), 1,
                    row("b", "b1", 0), 1, row("b", "b1", 2), -1, row("b", "b2", 2), 1, row("b", "b2", 3), -1, row("b", "b3", 3), 1,
                    row("c", "c1", 1), 1, row("c", "c1", 3), -1, row("c", "c2", 3), 1));
        }
    }

    /** Issue test 3: a prior value fed back as of P is retracted by the first update after it. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void rehydrationThenUpdate(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT.withResumePositions(Map.of(0, 10L)))) {
            s.prior(put("k", "old", 9, 0));
            s.command(put("k", "replayed", 7, 0));
            s.storeFrontier(1);
            s.command(put("k", "new", 10, 1));
            s.inputFrontier(2);
            s.assertCollection(rows(row("k", "old", 1), -1, row("k", "new", 1), 1));
            assertEquals(Map.of(0, 11L), s.driver().lastProgress().positions());
        }
    }

    /**
     * SPEC 3.8 with the command buffer: with room for about 50 keys' commands (20 KB), 2,000 keys
     * with ineligible commands keep at most that on the heap (the rest spill to keyed state with timers); spilled
     * keys that get more commands come back into the buffer with their timer, and one drain
     * applies everything once, in time order per key.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void bufferStaysWithinItsBound(Backend backend) throws Exception {
        int keys = 2_000;
        long bound = 20_000;
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT.withBufferSize(MemorySize.parse(bound + "b")))) {
            s.endFeedback();
            for (int k = 0; k < keys; k++) {
                s.command(put("key" + k, "first" + k, k, 5));
                assertTrue(s.driver().operator().bufferedBytes() <= bound, "buffer above its bound");
            }
            for (int k = 0; k < keys; k += 7) {
                s.command(put("key" + k, "second" + k, keys + k, 6));
            }
            s.assertMatchesModel("all held");
            assertEquals(keys + (keys + 6) / 7, s.driver().stashEntries(), "one entry per (key, time)");
            assertTrue(s.driver().operator().bufferedBytes() <= bound, "buffer above its bound");
            s.inputFrontier(7);
            s.assertMatchesModel("all drained");
            assertEquals(0, s.driver().stashEntries());
            int seconds = (keys + 6) / 7;
            assertEquals(keys + 2L * seconds, s.driver().output().stream().filter(u -> !u.isProgress()).count(),
                    "an insert per key, a retraction and an insert per second command");
        }
    }

    /**
     * Issue test 4: one drain touching far more keys than any batch (2,000 keys at one time), then
     * all updated. Also SPEC 3.8: the 2,000 stashed commands live in keyed state; the heap
     * bookkeeping and the operator state stay the size of one held time.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void drainTouchingManyKeys(Backend backend) throws Exception {
        int keys = 2_000;
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.endFeedback();
            Object[] expected = new Object[keys * 6];
            for (int k = 0; k < keys; k++) {
                s.command(put("key" + k, "first" + k, k, 5));
            }
            assertEquals(keys, s.driver().stashEntries());
            assertEquals(1, s.driver().operator().heldBuckets(), "heap bookkeeping grows with keys, not times");
            OperatorSubtaskState snapshot = s.snapshot().checkpoint().state();
            assertTrue(snapshot.getManagedOperatorState().getStateSize() < 512,
                    "operator (heap) state grows with keys: " + snapshot.getManagedOperatorState().getStateSize() + " bytes");
            assertTrue(snapshot.getManagedKeyedState().getStateSize() > keys * 10L, "stash not in keyed state");
            s.inputFrontier(6);
            for (int k = 0; k < keys; k++) {
                s.command(put("key" + k, "second" + k, keys + k, 6));
            }
            s.inputFrontier(7);
            for (int k = 0; k < keys; k++) {
                expected[6 * k] = row("key" + k, "first" + k, 5);
                expected[6 * k + 1] = 1;
                expected[6 * k + 2] = row("key" + k, "first" + k, 6);
                expected[6 * k + 3] = -1;
                expected[6 * k + 4] = row("key" + k, "second" + k, 6);
                expected[6 * k + 5] = 1;
            }
            s.assertCollection(rows(expected));
        }
    }

    /** Issue test 5: delete of an existing key, delete of an absent key (no output), re-insert after delete. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void deletes(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.endFeedback();
            s.command(put("a", "a1", 0, 1)).inputFrontier(2);
            s.command(delete("a", 1, 2)).command(delete("b", 2, 2)).inputFrontier(3);
            s.command(put("a", "a2", 3, 3)).inputFrontier(4);
            s.assertCollection(rows(row("a", "a1", 1), 1, row("a", "a1", 2), -1, row("a", "a2", 3), 1));
            assertEquals(3, s.driver().output().stream().filter(u -> !u.isProgress()).count(), "no output for the absent delete");
        }
    }

    /** Issue test 6: an equal update emits nothing; an update whose timestamp goes backwards still wins by offset. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void equalUpdateAndBackwardsTimestamp(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT).timingDependent()) {
            s.endFeedback();
            s.command(put("a", "same", 0, 1)).inputFrontier(2);
            s.command(put("a", "same", 1, 2)).inputFrontier(3);
            assertEquals(1, s.driver().output().stream().filter(u -> !u.isProgress()).count(), "equal update emitted");
            // both pending: the later offset wins although its timestamp is older
            s.command(put("a", "at5", 2, 5)).command(put("a", "at4", 3, 4)).inputFrontier(6);
            // already drained: the older timestamp is applied at the earliest open time, 7
            s.command(put("b", "b6", 4, 6)).inputFrontier(7);
            s.command(put("b", "b3", 5, 3)).inputFrontier(8);
            s.assertCollection(rows(row("a", "same", 1), 1, row("a", "same", 5), -1, row("a", "at4", 5), 1,
                    row("b", "b6", 6), 1, row("b", "b6", 7), -1, row("b", "b3", 7), 1));
        }
    }

    /** Issue test 7: per (key, t) the highest offset wins whatever the arrival order (all 6 orders of 3 commands). */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void highestOffsetWinsWithinKeyAndTime(Backend backend) throws Exception {
        List<List<Integer>> orders = List.of(List.of(0, 1, 2), List.of(0, 2, 1), List.of(1, 0, 2), List.of(1, 2, 0),
                List.of(2, 0, 1), List.of(2, 1, 0));
        List<UpsertCommand> commands = List.of(put("k", "low", 3, 1), put("k", "high", 5, 1),
                put("k", "mid", 4, 1));
        for (List<Integer> order : orders) {
            try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
                s.storeFrontier(1);
                for (int i : order) {
                    s.command(commands.get(i));
                }
                s.inputFrontier(2);
                s.assertCollection(rows(row("k", "high", 1), 1));
            }
        }
    }

    /** Issue test 8: P jumps ahead of stashed times: nothing stranded, the output watermark is not pinned below P. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void persistFrontierJumpsAheadOfStashedTimes(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.command(put("a", "a2", 0, 2)).command(put("b", "b5", 1, 5)).command(put("a", "a7", 2, 7));
            s.storeFrontier(10);
            s.assertMatchesModel("after P -> 10");
            assertEquals(10, s.driver().outputFrontier(), "output watermark pinned below P");
            assertEquals(3, s.driver().stashEntries());
            s.inputFrontier(11);
            assertEquals(0, s.driver().stashEntries(), "commands stranded in the stash");
            assertEquals(11, s.driver().outputFrontier());
            s.assertCollection(rows(row("a", "a7", 10), 1, row("b", "b5", 10), 1));
        }
    }

    /** Issue test 9: an error value is stored and emitted, then retracted by a good value, and by a delete. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void errorValues(Backend backend) throws Exception {
        UpsertValue bad = UpsertValue.error("\u0000bad".getBytes(StandardCharsets.UTF_8), "not Avro");
        UpsertValue worse = UpsertValue.error("worse".getBytes(StandardCharsets.UTF_8), "truncated");
        byte[] key = "k".getBytes(StandardCharsets.UTF_8);
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.endFeedback();
            s.command(UpsertCommand.put(key, bad, 0, 0, 1)).inputFrontier(2);
            s.command(put("k", "good", 1, 2)).inputFrontier(3);
            s.command(UpsertCommand.put(key, worse, 0, 2, 3)).inputFrontier(4);
            s.command(delete("k", 3, 4)).inputFrontier(5);
            s.assertCollection(rows(new Row("k", bad, 1), 1,
                    new Row("k", bad, 2), -1, row("k", "good", 2), 1,
                    row("k", "good", 3), -1, new Row("k", worse, 3), 1,
                    new Row("k", worse, 4), -1));
            assertTrue(s.driver().output().stream().anyMatch(u -> !u.isProgress() && value("good").equals(u.value())));
        }
    }

    /** Issue test 10: the output watermark is held while data is held and released when the stash is empty. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void outputWatermarkHeldWhileDataHeld(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.storeFrontier(0);
            s.command(put("a", "a1", 0, 1)).command(put("b", "b3", 1, 3));
            s.inputFrontier(10);
            assertEquals(1, s.driver().outputFrontier(), "held at a@1 (t < P + lead fails)");
            s.persistFrontier(1);
            s.assertMatchesModel("after P -> 1");
            assertEquals(3, s.driver().outputFrontier(), "held at b@3");
            s.persistFrontier(2);
            assertEquals(3, s.driver().outputFrontier(), "still held at b@3 (t < P + lead fails)");
            s.persistFrontier(3);
            assertEquals(0, s.driver().stashEntries());
            assertEquals(10, s.driver().outputFrontier(), "released to I once nothing is held");
            s.assertCollection(rows(row("a", "a1", 1), 1, row("b", "b3", 3), 1));
        }
    }
    /** SPEC 3.3: with lead = 3 the output may run up to 3 ticks ahead of P, not further. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void leadBoundsHowFarOutputRunsAheadOfPersistFrontier(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT.withLead(Duration.ofMillis(3)))) {
            s.storeFrontier(0);
            for (int t = 0; t < 6; t++) {
                s.command(put("k", "v" + t, t, t));
            }
            s.inputFrontier(10);
            s.assertMatchesModel("after I -> 10");
            assertEquals(rows(row("k", "v0", 0), 1, row("k", "v0", 1), -1, row("k", "v1", 1), 1,
                    row("k", "v1", 2), -1, row("k", "v2", 2), 1), s.actual());
            assertEquals(3, s.driver().outputFrontier());
            s.persistFrontier(2);
            s.assertMatchesModel("after P -> 2");
            assertEquals(5, s.driver().outputFrontier());
            s.persistFrontier(3);
            s.assertComplete("after P -> 3");
        }
    }

    /** SPEC 3.4 and 3.10: after rehydration, commands below the resume positions are dropped and counted, the rest applied. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void rehydrationDropsCommandsTheStoreHolds(Backend backend) throws Exception {
        UpsertOptions options = STRICT.withResumePositions(Map.of(0, 5L, 1, 2L));
        try (DifferentialScenario s = new DifferentialScenario(backend, options)) {
            s.prior(put("a", "a4", 4, 3));
            s.prior(UpsertCommand.put("b".getBytes(StandardCharsets.UTF_8), value("b1"), 1, 1, 2));
            // replayed from the source: below the positions, already in the store
            s.command(put("a", "a4", 4, 3));
            s.command(UpsertCommand.put("b".getBytes(StandardCharsets.UTF_8), value("b1"), 1, 1, 2));
            // above the positions but with times the store already covers: applied at P
            s.command(put("a", "a5", 5, 3));
            s.command(UpsertCommand.put("b".getBytes(StandardCharsets.UTF_8), value("b1"), 1, 2, 3));
            s.storeFrontier(4);
            s.inputFrontier(5);
            s.assertCollection(rows(row("a", "a4", 4), -1, row("a", "a5", 4), 1));
            assertEquals(2, s.driver().operator().droppedBelowResumePositionCount());
            assertEquals(Map.of(0, 6L, 1, 3L), s.driver().lastProgress().positions());
        }
    }

    /** SPEC 3.4: a command arriving after its time was closed by the output watermark is applied at the output frontier, not dropped. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void lateCommandIsRetimedNotDropped(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT).timingDependent()) {
            s.endFeedback();
            s.inputFrontier(5);
            s.command(put("k", "late", 0, 2));
            s.assertMatchesModel("held at 5");
            assertEquals(5, s.driver().outputFrontier());
            s.inputFrontier(6);
            s.assertCollection(rows(row("k", "late", 5), 1));
            assertEquals(1, s.driver().operator().retimedCount());
        }
    }

    /** SPEC 3.2 and DESIGN: a replay (order key not above the key's) is dropped and counted; progress positions. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void supersededCommandsAreCountedAndPositionsTrackHeldOffsets(Backend backend) throws Exception {
        try (DifferentialScenario s = new DifferentialScenario(backend, STRICT)) {
            s.storeFrontier(0);
            s.command(put("a", "a1", 0, 0)).command(put("b", "b1", 1, 1)).command(put("a", "a0", 0, 0));
            assertEquals(1, s.driver().operator().droppedSupersededCount());
            s.inputFrontier(5);
            assertEquals(Map.of(0, 1L), s.driver().lastProgress().positions(), "b@1 (offset 1) is held");
            s.persistFrontier(1);
            assertEquals(Map.of(0, 2L), s.driver().lastProgress().positions(), "nothing held: max seen + 1");
            s.assertCollection(rows(row("a", "a1", 0), 1, row("b", "b1", 1), 1));
        }
    }
    /**
     * SPEC 3.4, 3.8 and 3.9 across a rescale: a snapshot taken at parallelism 1 with commands
     * held is restored on 2 subtasks; each rebuilds its held times from its own key groups and
     * together they drain exactly what a run without the rescale produces.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void rescaleRebuildsHeldCommandsFromKeyedState(Backend backend) throws Exception {
        SpecModel model = new SpecModel(Map.of());
        List<Update> output = new ArrayList<>();
        OperatorSubtaskState snapshot;
        try (OperatorDriver single = new OperatorDriver(backend, STRICT)) {
            single.persistFrontier(0);
            for (int k = 0; k < 40; k++) {
                UpsertCommand command = put("key" + k, "v" + k, k, k % 4);
                single.command(command);
                model.record(command);
            }
            single.inputFrontier(10);
            single.persistFrontier(1);
            assertEquals(20, single.stashEntries(), "times 2 and 3 held (t < P + lead fails)");
            snapshot = single.snapshot().state();
            output.addAll(single.output());
        }
        long held = 0;
        List<OperatorDriver> subtasks = new ArrayList<>();
        try {
            for (int subtask = 0; subtask < 2; subtask++) {
                OperatorSubtaskState repartitioned = AbstractStreamOperatorTestHarness.repartitionOperatorState(snapshot,
                        OperatorDriver.MAX_PARALLELISM, 1, 2, subtask);
                OperatorDriver driver = new OperatorDriver(backend, STRICT, 2, subtask, repartitioned);
                subtasks.add(driver);
                held += driver.stashEntries();
            }
            assertEquals(20, held, "held commands after the rescale");
            for (OperatorDriver driver : subtasks) {
                driver.persistFrontier(4);
                driver.inputFrontier(11);
            }
            for (OperatorDriver driver : subtasks) {
                assertEquals(0, driver.stashEntries());
                output.addAll(driver.output());
            }
        } finally {
            for (OperatorDriver driver : subtasks) {
                driver.close();
            }
        }
        assertEquals(Consolidation.render(model.changelog()), Consolidation.render(Consolidation.consolidate(output)));
    }
}
