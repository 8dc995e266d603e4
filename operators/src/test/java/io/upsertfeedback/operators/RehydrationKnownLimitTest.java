package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import io.upsertfeedback.operators.testing.SpecModel;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.upsertfeedback.operators.testing.DifferentialScenario.put;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SPEC 3.10 with a key that moved between partitions: the smallest input on which rehydration
 * from a finished store ({@code P = +inf}) differs from the failure-free run (found by
 * {@link RandomizedDifferentialTest} once keys were allowed to move in rehydrating runs).
 *
 * <p>A bounded run reads {@code k0 = x @ (1, p0, o0)}, {@code k0 = delete @ (8, p0, o1)} and
 * {@code k1 = y @ (2, p1, o0)}, and finishes: the store holds {@code k1 = y}, {@code P = +inf},
 * positions {@code {p0: 2, p1: 1}}. A new run rehydrates from it and reads the next record of
 * partition 1, {@code k0 = x @ (6, p1, o1)} (partition 1's watermark is 2: the time is legitimate).
 * In the failure-free run of the four records the delete {@code (8, p0, o1)} is k0's highest order
 * key: k0 is absent. The rehydrated operator never learns that order key (the feedback source
 * streams live values only, and {@code MarkerCollector} removes the deletion marker once the
 * checkpoint after the delete completed), so it applies the put and emits {@code +x @ 6}; the
 * store then holds {@code k0 = x} if the marker was collected, or refuses the write as older while
 * the operator believes {@code k0 = x} (a later put of {@code x} would then be suppressed as
 * equal, and the store keep the delete). At a finite {@code P} this cannot happen while every
 * partition has a resume position: every record a rehydrated run reads is at or above the frontier
 * its positions were released with, later than every delete drained before them. A partition
 * without one (one of the writing job's subtasks never saw a command of it: the store keeps a
 * position only where every subtask gives one) is read again from its start, and the same can
 * happen at any {@code P}. A fix needs the store's deletion order keys in rehydration (markers kept
 * and fed back as priors of an absent value), not an operator change alone.
 */
class RehydrationKnownLimitTest {
    @Test
    @Disabled("known limit of rehydration from a finished store with keys moving between partitions: see the class comment")
    void rehydrationFromFinishedStoreKeepsDeleteOfMovedKey() throws Exception {
        UpsertCommand put = put("k0", "x", 0, 0, 1);
        UpsertCommand delete = UpsertCommand.delete("k0".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0, 1, 8);
        UpsertCommand other = put("k1", "y", 1, 0, 2);
        UpsertCommand moved = put("k0", "x", 1, 1, 6);
        Map<Integer, Long> positions;
        try (DifferentialScenario first = new DifferentialScenario(Backend.HEAP, UpsertOptions.defaults())) {
            first.storeFrontier(Frontiers.EMPTY_STORE);
            first.command(put).command(delete).command(other);
            first.inputFrontier(Long.MAX_VALUE);
            first.persistFrontier(first.outputFrontier());
            first.assertComplete("the finished run");
            positions = first.driver().lastProgress().positions();
            assertEquals(Map.of(0, 2L, 1, 1L), positions);
            assertEquals(Map.of("k1", DifferentialScenario.value("y")), first.finalValues());
        }
        try (DifferentialScenario second = new DifferentialScenario(Backend.HEAP,
                UpsertOptions.defaults().withResumePositions(positions))) {
            second.prior(other);
            second.storeFrontier(Long.MAX_VALUE);
            second.command(moved);
            second.inputFrontier(Long.MAX_VALUE);
            SpecModel failureFree = new SpecModel(Map.of());
            List.of(put, delete, other, moved).forEach(failureFree::record);
            assertEquals(failureFree.finalValues(), second.finalValues(), "changelog " + second.output());
        }
    }
}
