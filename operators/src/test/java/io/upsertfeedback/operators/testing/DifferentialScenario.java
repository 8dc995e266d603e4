package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.testing.Consolidation.Row;

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
 *   <li>at any moment, the consolidated output equals the model's changelog below the operator's
 *       output frontier (what is below the watermark is final and complete);
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
 */
public final class DifferentialScenario implements AutoCloseable {
    private final OperatorDriver driver;
    private final SpecModel model;
    private final Map<String, UpsertValue> stored = new HashMap<>();
    private final List<DriverStep> inputs = new ArrayList<>();
    /** Indices of the inputs that are records or stored values (replayed by a burst replay). */
    private final List<Integer> dataInputs = new ArrayList<>();
    private boolean timingDependent;

    /** What the operator gets for one input, kept for replay after a restore. */
    private interface DriverStep {
        void applyTo(OperatorDriver driver) throws Exception;
    }

    /** A checkpoint and how many inputs it covers. */
    public record Snapshot(OperatorDriver.Checkpoint checkpoint, int inputsCovered) {
    }

    public DifferentialScenario(OperatorDriver.Backend backend, UpsertOptions options) throws Exception {
        this.driver = new OperatorDriver(backend, options);
        this.model = new SpecModel(options.resumePositions());
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
        give(driver -> driver.command(command));
        model.record(command);
        return this;
    }

    /** A value the store held at the start, fed back to the operator (rehydration). */
    public DifferentialScenario prior(UpsertCommand prior) throws Exception {
        dataInputs.add(inputs.size());
        give(driver -> driver.prior(prior));
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
        give(driver -> driver.persistFrontier(Long.MAX_VALUE));
        return endFeedback();
    }

    public DifferentialScenario inputFrontier(long frontier) throws Exception {
        give(driver -> driver.inputFrontier(frontier));
        return this;
    }

    public DifferentialScenario persistFrontier(long frontier) throws Exception {
        give(driver -> driver.persistFrontier(frontier));
        return this;
    }

    /** The command input goes idle. */
    public DifferentialScenario inputIdle() throws Exception {
        give(OperatorDriver::inputIdle);
        return this;
    }

    public DifferentialScenario endFeedback() throws Exception {
        give(OperatorDriver::endFeedback);
        return this;
    }

    private void give(DriverStep step) throws Exception {
        step.applyTo(driver);
        inputs.add(step);
    }

    public Snapshot snapshot() throws Exception {
        return new Snapshot(driver.snapshot(), inputs.size());
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
        driver.restore(snapshot.checkpoint(), options);
        for (int i = snapshot.inputsCovered(); i < inputs.size(); i++) {
            if (!burst || dataInputs.contains(i)) {
                inputs.get(i).applyTo(driver);
            }
        }
    }

    /** The changelog's final values (stored values included): what the store holds once everything drained. */
    public Map<String, UpsertValue> finalValues() {
        return Consolidation.finalValues(stored, driver.output());
    }

    public OperatorDriver driver() {
        return driver;
    }

    public SpecModel model() {
        return model;
    }

    public Map<Row, Long> actual() {
        return Consolidation.consolidate(driver.output());
    }

    /** The operator agrees with the model on everything final so far; throws with both sides otherwise. */
    public void assertMatchesModel(String context) {
        String violation = Consolidation.firstMultiplicityViolation(stored, driver.output());
        if (violation != null) {
            throw new AssertionError(context + ": invariant 6 violated: " + violation);
        }
        if (!timingDependent) {
            compare(context + ": output below the output frontier " + driver.outputFrontier(),
                    model.changelogBelow(driver.outputFrontier()), actual());
        }
    }

    /** Every frontier is past everything: nothing held, the whole changelog and the final values match. */
    public void assertComplete(String context) {
        assertMatchesModel(context);
        if (driver.stashEntries() != 0) {
            throw new AssertionError(context + ": " + driver.stashEntries() + " commands still held, output frontier "
                    + driver.outputFrontier());
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
        driver.close();
    }
}
