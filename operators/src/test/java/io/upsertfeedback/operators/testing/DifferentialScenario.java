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
import java.util.function.Consumer;

/**
 * Feeds the same inputs to the operator (through an {@link OperatorDriver}) and to the
 * {@link CollectionOracle}, and compares them: consolidated output, output frontier, number of
 * held commands, and invariant 6 on the raw changelog. Also the shorthand the conformance tests
 * are written in: partition 0, string keys and values.
 *
 * <p>Failures: {@link #snapshot()} checkpoints the operator; {@link #failAndRestore} restores a
 * fresh operator from it and replays every input given since, as a restarted job replays its
 * sources from the checkpoint. The oracle is then rebuilt along the restored lineage: the same
 * inputs once each, with {@link CollectionOracle#restoredFromCheckpoint()} from the first input
 * the restored state did not cover. That only differs from the failure-free run where {@code P}
 * jumps past held commands after a restore, which a running pipeline never does (its {@code P}
 * follows the output watermark); elsewhere a match is SPEC invariant 9.
 */
public final class DifferentialScenario implements AutoCloseable {
    private final OperatorDriver driver;
    private final UpsertOptions options;
    private CollectionOracle oracle;
    private final Map<String, UpsertValue> priors = new HashMap<>();
    private final List<Step> inputs = new ArrayList<>();
    /** Index of the first input the current operator's lineage processed as a restored operator. */
    private int restoredFrom = Integer.MAX_VALUE;

    /** What the operator gets for one input, kept for replay after a restore. */
    private interface DriverStep {
        void applyTo(OperatorDriver driver) throws Exception;
    }

    /** One input, as given to the operator and to the oracle. */
    private record Step(DriverStep driver, Consumer<CollectionOracle> oracle) {
    }

    /** A checkpoint, how many inputs it covers, and where its lineage was restored (if it was). */
    public record Snapshot(OperatorDriver.Checkpoint checkpoint, int inputsCovered, int restoredFrom) {
    }

    public DifferentialScenario(OperatorDriver.Backend backend, UpsertOptions options) throws Exception {
        this.options = options;
        this.driver = new OperatorDriver(backend, options);
        this.oracle = newOracle();
    }

    private CollectionOracle newOracle() {
        return new CollectionOracle(options.leadMillis(), options.resumePositions());
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
        give(driver -> driver.command(command), oracle -> oracle.command(command));
        return this;
    }

    public DifferentialScenario prior(UpsertCommand prior) throws Exception {
        give(driver -> driver.prior(prior), oracle -> oracle.prior(prior));
        priors.put(prior.flinkKey(), prior.value());
        return this;
    }

    public DifferentialScenario inputFrontier(long frontier) throws Exception {
        give(driver -> driver.inputFrontier(frontier), oracle -> oracle.inputFrontier(frontier));
        return this;
    }

    public DifferentialScenario persistFrontier(long frontier) throws Exception {
        give(driver -> driver.persistFrontier(frontier), oracle -> oracle.persistFrontier(frontier));
        return this;
    }

    public DifferentialScenario endFeedback() throws Exception {
        give(OperatorDriver::endFeedback, CollectionOracle::feedbackEnded);
        return this;
    }

    private void give(DriverStep driverStep, Consumer<CollectionOracle> oracleStep) throws Exception {
        driverStep.applyTo(driver);
        oracleStep.accept(oracle);
        inputs.add(new Step(driverStep, oracleStep));
    }

    public Snapshot snapshot() throws Exception {
        return new Snapshot(driver.snapshot(), inputs.size(), restoredFrom);
    }

    /**
     * The operator fails; a fresh one restores {@code snapshot} and gets every input since replayed.
     * The oracle is rebuilt along the restored lineage (see the class comment).
     */
    public void failAndRestore(Snapshot snapshot) throws Exception {
        driver.restore(snapshot.checkpoint());
        for (Step step : inputs.subList(snapshot.inputsCovered(), inputs.size())) {
            step.driver().applyTo(driver);
        }
        restoredFrom = Math.min(snapshot.restoredFrom(), snapshot.inputsCovered());
        oracle = newOracle();
        for (int i = 0; i < inputs.size(); i++) {
            if (i == restoredFrom) {
                oracle.restoredFromCheckpoint();
            }
            inputs.get(i).oracle().accept(oracle);
        }
        if (restoredFrom == inputs.size()) {
            oracle.restoredFromCheckpoint();
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
