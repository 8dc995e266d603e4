package io.upsertfeedback.operators.testing;

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
 * Feeds the same inputs to the operator (through an {@link OperatorDriver}) and to the
 * {@link CollectionOracle}, and compares them: consolidated output, output frontier, number of
 * held commands, and invariant 6 on the raw changelog. Also the shorthand the conformance tests
 * are written in: partition 0, string keys and values.
 *
 * <p>Failures: {@link #snapshot()} checkpoints the operator; {@link #failAndRestore} restores a
 * fresh operator from it and replays every input given since, as a restarted job replays its
 * sources from the checkpoint. The oracle sees each input once (the failure-free run), so a
 * match afterwards is SPEC invariant 9.
 */
public final class DifferentialScenario implements AutoCloseable {
    private final OperatorDriver driver;
    private final CollectionOracle oracle;
    private final Map<String, UpsertValue> priors = new HashMap<>();
    private final List<Step> inputs = new ArrayList<>();

    /** One input given to the operator, kept for replay after a restore. */
    private interface Step {
        void applyTo(OperatorDriver driver) throws Exception;
    }

    /** A checkpoint plus how many inputs it covers. */
    public record Snapshot(OperatorDriver.Checkpoint checkpoint, int inputsCovered) {
    }

    public DifferentialScenario(OperatorDriver.Backend backend, UpsertOptions options) throws Exception {
        this.driver = new OperatorDriver(backend, options);
        this.oracle = new CollectionOracle(options.leadMillis(), options.resumePositions());
    }

    public static UpsertValue value(String text) {
        return UpsertValue.of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code key = value @ time}, order key {@code (0, offset)}. */
    public static UpsertCommand put(String key, String value, long offset, long time) {
        return UpsertCommand.put(key.getBytes(StandardCharsets.UTF_8), value(value), 0, offset, time);
    }

    /** Delete {@code key} at {@code time}, order key {@code (0, offset)}. */
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

    public DifferentialScenario command(UpsertCommand command) throws Exception {
        give(driver -> driver.command(command));
        oracle.command(command);
        return this;
    }

    public DifferentialScenario prior(UpsertCommand prior) throws Exception {
        give(driver -> driver.prior(prior));
        oracle.prior(prior);
        priors.put(prior.flinkKey(), prior.value());
        return this;
    }

    public DifferentialScenario inputFrontier(long frontier) throws Exception {
        give(driver -> driver.inputFrontier(frontier));
        oracle.inputFrontier(frontier);
        return this;
    }

    public DifferentialScenario persistFrontier(long frontier) throws Exception {
        give(driver -> driver.persistFrontier(frontier));
        oracle.persistFrontier(frontier);
        return this;
    }

    public DifferentialScenario endFeedback() throws Exception {
        give(driver -> driver.endFeedback());
        oracle.feedbackEnded();
        return this;
    }

    private void give(Step step) throws Exception {
        step.applyTo(driver);
        inputs.add(step);
    }

    public Snapshot snapshot() throws Exception {
        return new Snapshot(driver.snapshot(), inputs.size());
    }

    /** The operator fails; a fresh one restores {@code snapshot} and gets every input since replayed. */
    public void failAndRestore(Snapshot snapshot) throws Exception {
        driver.restore(snapshot.checkpoint());
        for (Step step : inputs.subList(snapshot.inputsCovered(), inputs.size())) {
            step.applyTo(driver);
        }
    }

    public OperatorDriver driver() {
        return driver;
    }

    public CollectionOracle oracle() {
        return oracle;
    }

    public Map<Row, Long> actual() {
        return Consolidation.consolidate(driver.output());
    }

    /** Operator and oracle agree on everything observable; throws with both sides otherwise. */
    public void assertMatchesOracle(String context) {
        Map<Row, Long> actual = actual();
        Map<Row, Long> expected = oracle.expected();
        if (!actual.equals(expected)) {
            throw new AssertionError(context + ": consolidated output differs from the oracle\n--- expected\n"
                    + Consolidation.render(expected) + "\n--- actual\n" + Consolidation.render(actual));
        }
        String violation = Consolidation.firstMultiplicityViolation(priors, driver.output());
        if (violation != null) {
            throw new AssertionError(context + ": invariant 6 violated: " + violation);
        }
        if (driver.outputFrontier() != oracle.outputFrontier()) {
            throw new AssertionError(context + ": output frontier " + driver.outputFrontier() + ", oracle says "
                    + oracle.outputFrontier());
        }
        if (driver.stashEntries() != oracle.pendingCount()) {
            throw new AssertionError(context + ": operator holds " + driver.stashEntries() + " commands, oracle says "
                    + oracle.pendingCount());
        }
    }

    /** Matches the oracle and the output consolidates to exactly {@code expected}. */
    public void assertCollection(Map<Row, Long> expected) {
        assertMatchesOracle("scenario");
        Map<Row, Long> actual = actual();
        if (!actual.equals(expected)) {
            throw new AssertionError("consolidated output differs from the SPEC's expectation\n--- expected\n"
                    + Consolidation.render(expected) + "\n--- actual\n" + Consolidation.render(actual));
        }
    }

    @Override
    public void close() throws Exception {
        driver.close();
    }
}
