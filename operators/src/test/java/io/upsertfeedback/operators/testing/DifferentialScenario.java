package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.testing.Consolidation.Row;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Feeds the same records to the operator (through an {@link OperatorDriver}) and to the
 * {@link SpecModel}, and compares them. The model is the failure-free run of the records: it
 * sees each record once and no frontier, so every comparison is SPEC invariant 9 (the operator,
 * whatever the timing of its frontiers and whatever failures it went through, produces what the
 * records alone determine):
 * <ul>
 *   <li>at any moment, the consolidated output below the output frontier (the minimum over the
 *       subtasks) equals the model's changelog below it (what is below the watermark is final and
 *       complete; a subtask ahead of the others has output above it, checked once it is passed);
 *   <li>the changelog is well formed from the stored values on (invariant 6);
 *   <li>at the end ({@link #assertComplete}), nothing is held, the whole changelog matches and every
 *       key's value is the model's final value.
 * </ul>
 * A scenario that brings commands behind the frontiers on purpose (late data, {@code P} passing
 * held commands outside a rehydration) is declared {@link #timingDependent()}: SPEC applies such
 * commands at the state frontier, which depends on arrival, so only invariant 6, the final values
 * and the test's own expectation are checked.
 *
 * <p>Failures: {@link #snapshot()} checkpoints the operator; {@link #failAndRestore} restores a
 * fresh operator from it (optionally with the options of a resubmitted job, e.g. the store's
 * current positions) and replays every input given since, as a restarted job replays its sources
 * from the checkpoint. The model does not change: a failure must not show.
 *
 * <p>Parallelism: a scenario runs {@code N} operator subtasks, each with its key-group range of
 * {@link OperatorDriver#MAX_PARALLELISM}. Commands and prior values go to the subtask Flink's
 * key-group assignment gives their key; frontiers go to every subtask (each gets the whole input
 * frontier and the store's {@code P}). The output is the union of the subtasks' outputs, its
 * frontier the minimum of theirs (what a downstream operator sees). {@link #failAndRestore(Snapshot,
 * UpsertOptions, boolean, int)} restores at another parallelism {@code M}: the subtasks' snapshots
 * are merged and repartitioned as Flink does ({@code AbstractStreamOperatorTestHarness.repackageState}
 * and {@code repartitionOperatorState}: key groups to their new owners, the operator's union list
 * state to every subtask), each new subtask restores its share, and every input since the
 * snapshot is replayed, routed by the new assignment.
 */
public final class DifferentialScenario implements AutoCloseable {
    private final OperatorDriver.Backend backend;
    private UpsertOptions options;
    /** The running subtasks, index = subtask. */
    private final List<OperatorDriver> drivers = new ArrayList<>();
    /** Output of subtasks a rescale replaced (up to the snapshot it restored): the start of {@link #output()}. */
    private List<Update> retired = new ArrayList<>();
    /** Counts the restores: a snapshot of an earlier epoch was taken by other subtask instances. */
    private int epoch;
    private final SpecModel model;
    private final Map<String, UpsertValue> stored = new HashMap<>();
    private final List<DriverStep> inputs = new ArrayList<>();
    /** Indices of the inputs that are records or stored values (replayed by a burst replay). */
    private final List<Integer> dataInputs = new ArrayList<>();
    private boolean timingDependent;

    /** What the operator gets for one input, kept for replay after a restore. */
    private interface DriverStep {
        void applyTo(DifferentialScenario scenario) throws Exception;
    }

    /** A checkpoint of every subtask (index = subtask), how many inputs it covers, and the output at that moment. */
    public record Snapshot(List<OperatorDriver.Checkpoint> checkpoints, int inputsCovered, int epoch, List<Update> output) {
        /** The checkpoint of a scenario with one subtask. */
        public OperatorDriver.Checkpoint checkpoint() {
            if (checkpoints.size() != 1) {
                throw new IllegalStateException("a snapshot of " + checkpoints.size() + " subtasks");
            }
            return checkpoints.get(0);
        }
    }

    public DifferentialScenario(OperatorDriver.Backend backend, UpsertOptions options) throws Exception {
        this(backend, options, 1);
    }

    /** {@code parallelism} subtasks, started without state. */
    public DifferentialScenario(OperatorDriver.Backend backend, UpsertOptions options, int parallelism) throws Exception {
        this.backend = backend;
        this.options = options;
        for (int subtask = 0; subtask < parallelism; subtask++) {
            drivers.add(new OperatorDriver(backend, options, parallelism, subtask, null));
        }
        this.model = new SpecModel(options.resumePositions());
    }

    /** The subtask Flink's key-group assignment gives {@code command}'s key at the current parallelism. */
    private OperatorDriver route(UpsertCommand command) {
        return drivers.get(KeyGroupRangeAssignment.assignKeyToParallelOperator(command.flinkKey(),
                OperatorDriver.MAX_PARALLELISM, drivers.size()));
    }

    private interface Broadcast {
        void applyTo(OperatorDriver driver) throws Exception;
    }

    private void broadcast(Broadcast step) throws Exception {
        for (OperatorDriver driver : drivers) {
            step.applyTo(driver);
        }
    }

    public static UpsertValue value(String text) {
        return UpsertValue.of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code key = value @ time}, order key {@code (time, 0, offset)}. */
    public static UpsertCommand put(String key, String value, long offset, long time) {
        return UpsertCommand.put(key.getBytes(StandardCharsets.UTF_8), value(value), 0, offset, time);
    }

    /** {@code key = value @ time} from {@code partition}. */
    public static UpsertCommand put(String key, String value, int partition, long offset, long time) {
        return UpsertCommand.put(key.getBytes(StandardCharsets.UTF_8), value(value), partition, offset, time);
    }

    /** Delete {@code key} at {@code time}, order key {@code (time, 0, offset)}. */
    public static UpsertCommand delete(String key, long offset, long time) {
        return UpsertCommand.delete(key.getBytes(StandardCharsets.UTF_8), 0, offset, time);
    }

    /** One row of an expected collection: {@code (key, value, time)}. */
    public static Row row(String key, String value, long time) {
        return new Row(key, value(value), time);
    }

    /** Builds an expected collection from {@code row, diff, row, diff, ...}. */
    public static Map<Row, Long> rows(Object... rowsAndDiffs) {
        Map<Row, Long> rows = new HashMap<>();
        for (int i = 0; i < rowsAndDiffs.length; i += 2) {
            rows.merge((Row) rowsAndDiffs[i], ((Number) rowsAndDiffs[i + 1]).longValue(), Long::sum);
        }
        return rows;
    }

    /** See the class comment: only invariant 6, the final values and the test's expectation are checked. */
    public DifferentialScenario timingDependent() {
        timingDependent = true;
        return this;
    }

    public DifferentialScenario command(UpsertCommand command) throws Exception {
        dataInputs.add(inputs.size());
        give(scenario -> scenario.route(command).command(command));
        model.record(command);
        return this;
    }

    /** A value the store held at the start, fed back to the operator (rehydration). */
    public DifferentialScenario prior(UpsertCommand prior) throws Exception {
        dataInputs.add(inputs.size());
        give(scenario -> scenario.route(prior).prior(prior));
        model.stored(prior);
        stored.put(prior.flinkKey(), prior.value());
        return this;
    }

    /** The store's {@code P} at the start of a rehydrating run, fed back after its values. */
    public DifferentialScenario storeFrontier(long frontier) throws Exception {
        model.rehydratedFrom(frontier);
        return frontier == Long.MAX_VALUE ? endFeedbackAtInfinity() : persistFrontier(frontier);
    }

    private DifferentialScenario endFeedbackAtInfinity() throws Exception {
        give(scenario -> scenario.broadcast(driver -> driver.persistFrontier(Long.MAX_VALUE)));
        return endFeedback();
    }

    public DifferentialScenario inputFrontier(long frontier) throws Exception {
        give(scenario -> scenario.broadcast(driver -> driver.inputFrontier(frontier)));
        return this;
    }

    public DifferentialScenario persistFrontier(long frontier) throws Exception {
        give(scenario -> scenario.broadcast(driver -> driver.persistFrontier(frontier)));
        return this;
    }

    /** The command input goes idle. */
    public DifferentialScenario inputIdle() throws Exception {
        give(scenario -> scenario.broadcast(OperatorDriver::inputIdle));
        return this;
    }

    public DifferentialScenario endFeedback() throws Exception {
        give(scenario -> scenario.broadcast(OperatorDriver::endFeedback));
        return this;
    }

    private void give(DriverStep step) throws Exception {
        step.applyTo(this);
        inputs.add(step);
    }

    /** A checkpoint of every subtask (one checkpoint: the inputs are the same for all). */
    public Snapshot snapshot() throws Exception {
        List<OperatorDriver.Checkpoint> checkpoints = new ArrayList<>();
        for (OperatorDriver driver : drivers) {
            checkpoints.add(driver.snapshot());
        }
        return new Snapshot(List.copyOf(checkpoints), inputs.size(), epoch, List.copyOf(output()));
    }

    /** The operator fails; a fresh one restores {@code snapshot} and gets every input since replayed. */
    public void failAndRestore(Snapshot snapshot) throws Exception {
        failAndRestore(snapshot, null);
    }

    /** As {@link #failAndRestore(Snapshot)}, the job resubmitted with {@code options} ({@code null}: unchanged). */
    public void failAndRestore(Snapshot snapshot, UpsertOptions options) throws Exception {
        failAndRestore(snapshot, options, false);
    }

    /**
     * As {@link #failAndRestore(Snapshot, UpsertOptions)}; with {@code burst}, the replay has other
     * timing than the failed attempt: the records since the checkpoint arrive in one burst with no
     * frontier between them (the test moves the frontiers afterwards).
     */
    public void failAndRestore(Snapshot snapshot, UpsertOptions options, boolean burst) throws Exception {
        failAndRestore(snapshot, options, burst, drivers.size());
    }

    /**
     * As {@link #failAndRestore(Snapshot, UpsertOptions, boolean)}, restored at {@code parallelism}
     * subtasks: the same options (a rescale within the job, e.g. by the adaptive scheduler) or
     * {@code options} ({@code flink run -s <savepoint> -p <parallelism>}). See the class comment.
     */
    public void failAndRestore(Snapshot snapshot, UpsertOptions options, boolean burst, int parallelism) throws Exception {
        if (options != null) {
            this.options = options;
        }
        // always as Flink restores: the operator's union list state (every subtask's frontiers)
        // goes to every subtask, also at an unchanged parallelism; key groups to their owners
        int oldParallelism = snapshot.checkpoints().size();
        for (OperatorDriver driver : drivers) {
            driver.close();
        }
        drivers.clear();
        epoch++;
        retired = new ArrayList<>(snapshot.output());
        long downstreamWatermark = Long.MAX_VALUE;
        OperatorSubtaskState[] states = new OperatorSubtaskState[oldParallelism];
        for (int subtask = 0; subtask < oldParallelism; subtask++) {
            states[subtask] = snapshot.checkpoints().get(subtask).state();
            downstreamWatermark = Math.min(downstreamWatermark, snapshot.checkpoints().get(subtask).outputWatermark());
        }
        OperatorSubtaskState merged = AbstractStreamOperatorTestHarness.repackageState(states);
        for (int subtask = 0; subtask < parallelism; subtask++) {
            OperatorSubtaskState share = AbstractStreamOperatorTestHarness.repartitionOperatorState(merged,
                    OperatorDriver.MAX_PARALLELISM, oldParallelism, parallelism, subtask);
            OperatorDriver driver = new OperatorDriver(backend, this.options, parallelism, subtask, share);
            driver.downstreamSaw(downstreamWatermark);
            drivers.add(driver);
        }
        for (int i = snapshot.inputsCovered(); i < inputs.size(); i++) {
            if (!burst || dataInputs.contains(i)) {
                inputs.get(i).applyTo(this);
            }
        }
    }

    /** The changelog's final values (stored values included): what the store holds once everything drained. */
    public Map<String, UpsertValue> finalValues() {
        return Consolidation.finalValues(stored, output());
    }

    /** The only subtask of a scenario at parallelism 1. */
    public OperatorDriver driver() {
        if (drivers.size() != 1) {
            throw new IllegalStateException("a scenario of " + drivers.size() + " subtasks: use drivers()");
        }
        return drivers.get(0);
    }

    /** The running subtasks (index = subtask). */
    public List<OperatorDriver> drivers() {
        return List.copyOf(drivers);
    }

    /**
     * What running subtask {@code subtask}'s sink received: the data updates of its keys that earlier
     * attempts emitted before the last restore (their progress markers cannot be told apart by
     * subtask and are left out), then its own output. Only without a rescale since then.
     */
    public List<Update> outputOf(int subtask) {
        List<Update> own = new ArrayList<>();
        for (Update update : retired) {
            if (!update.isProgress() && KeyGroupRangeAssignment.assignKeyToParallelOperator(UpsertCommand.keyOf(update.key()),
                    OperatorDriver.MAX_PARALLELISM, drivers.size()) == subtask) {
                own.add(update);
            }
        }
        own.addAll(drivers.get(subtask).output());
        return own;
    }

    /** The union of the subtasks' outputs: that of subtasks a rescale replaced, then each running subtask's, in order. */
    public List<Update> output() {
        List<Update> all = new ArrayList<>(retired);
        for (OperatorDriver driver : drivers) {
            all.addAll(driver.output());
        }
        return all;
    }

    /** The union output's frontier: the minimum of the subtasks' output frontiers. */
    public long outputFrontier() {
        long frontier = Long.MAX_VALUE;
        for (OperatorDriver driver : drivers) {
            frontier = Math.min(frontier, driver.outputFrontier());
        }
        return frontier;
    }

    /** Stash entries held over all subtasks. */
    public long stashEntries() {
        long held = 0;
        for (OperatorDriver driver : drivers) {
            held += driver.stashEntries();
        }
        return held;
    }

    /**
     * The positions the store keeps with the output frontier: {@link #foldPositions} of the
     * subtasks' last progress markers ({@code null} while a subtask has released none).
     */
    public Map<Integer, Long> storePositions() {
        List<Map<Integer, Long>> columns = new ArrayList<>();
        for (OperatorDriver driver : drivers) {
            Update progress = driver.lastProgress();
            if (progress == null) {
                return null;
            }
            columns.add(progress.positions());
        }
        return foldPositions(columns);
    }

    /**
     * The store's positions over its sink subtasks' columns (the {@code PersistFrontier} contract):
     * a partition only where every column has a position for it (a subtask that saw nothing of a
     * partition cannot vouch for its keys there), at the lowest of them.
     */
    public static Map<Integer, Long> foldPositions(List<Map<Integer, Long>> columns) {
        Map<Integer, Long> positions = new HashMap<>();
        if (columns.isEmpty()) {
            return positions;
        }
        for (Integer partition : columns.get(0).keySet()) {
            if (columns.stream().allMatch(c -> c.containsKey(partition))) {
                positions.put(partition, columns.stream().mapToLong(c -> c.get(partition)).min().getAsLong());
            }
        }
        return positions;
    }

    public SpecModel model() {
        return model;
    }

    public Map<Row, Long> actual() {
        return Consolidation.consolidate(output());
    }

    /** The operator agrees with the model on everything final so far; throws with both sides otherwise. */
    public void assertMatchesModel(String context) {
        String violation = Consolidation.firstMultiplicityViolation(stored, output());
        if (violation != null) {
            throw new AssertionError(context + ": invariant 6 violated: " + violation);
        }
        if (!timingDependent) {
            long frontier = outputFrontier();
            Map<Row, Long> below = actual();
            below.keySet().removeIf(row -> row.time() >= frontier); // other subtasks may be ahead: not final yet
            compare(context + ": output below the output frontier " + frontier, model.changelogBelow(frontier), below);
        }
    }

    /**
     * The input ends ({@code I = +inf}) and the store acknowledges the output so far ({@code P} at
     * the output frontier); then {@link #assertComplete}.
     */
    public void endInputAndAssertComplete(String context) throws Exception {
        inputFrontier(Long.MAX_VALUE);
        persistFrontier(outputFrontier());
        assertComplete(context);
    }

    /** The data updates so far as {@code key@time}, in output order (progress markers left out). */
    public List<String> updateTimes() {
        return output().stream().filter(u -> !u.isProgress()).map(u -> UpsertCommand.keyOf(u.key()) + "@" + u.time()).toList();
    }

    /** Every frontier is past everything: nothing held, the whole changelog and the final values match. */
    public void assertComplete(String context) {
        assertMatchesModel(context);
        if (stashEntries() != 0) {
            StringBuilder subtasks = new StringBuilder();
            for (OperatorDriver driver : drivers) {
                subtasks.append(" [").append(driver.stashEntries()).append(" held, output frontier ").append(driver.outputFrontier())
                        .append("]");
            }
            throw new AssertionError(context + ": " + stashEntries() + " commands still held, output frontier "
                    + outputFrontier() + "; subtasks:" + subtasks + "; output " + output());
        }
        if (!timingDependent) {
            compare(context + ": whole changelog", model.changelog(), actual());
        }
        Map<String, UpsertValue> expected = model.finalValues();
        Map<String, UpsertValue> actual = finalValues();
        if (!expected.equals(actual)) {
            throw new AssertionError(context + ": final values differ\n--- expected\n" + expected + "\n--- actual\n" + actual);
        }
    }

    private static void compare(String context, Map<Row, Long> expected, Map<Row, Long> actual) {
        if (!actual.equals(expected)) {
            throw new AssertionError(context + ": consolidated output differs from the SPEC model\n--- expected\n"
                    + Consolidation.render(expected) + "\n--- actual\n" + Consolidation.render(actual));
        }
    }

    /** Complete, and the output consolidates to exactly {@code expected} (the test's own reading of the SPEC). */
    public void assertCollection(Map<Row, Long> expected) {
        assertComplete("scenario");
        Map<Row, Long> actual = actual();
        if (!actual.equals(expected)) {
            throw new AssertionError("consolidated output differs from the test's expectation\n--- expected\n"
                    + Consolidation.render(expected) + "\n--- actual\n" + Consolidation.render(actual));
        }
    }

    @Override
    public void close() throws Exception {
        for (OperatorDriver driver : drivers) {
            driver.close();
        }
    }
}
