package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.OperatorDriver;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

import static io.upsertfeedback.operators.testing.DifferentialScenario.put;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A savepoint of an older layout of the operator's keyed state restores (README: "to rescale or
 * upgrade, stop the job with a savepoint and submit it again from there"). Flink migrates the
 * state: it reads it with the serializer the snapshot names ({@link KeyState.Serializer.Snapshot})
 * and writes it with the current one.
 *
 * <p>The snapshot files in {@code src/test/resources/savepoints/} were written by
 * {@link #writeSnapshot} on the code of their layout: {@code key-state-layout-1-*} at commit
 * c428b3c, before {@link KeyState#drainedTime}. The scenario: {@code k = a} and {@code j = b}
 * drained at 10, {@code P = 11}, then {@code k = c @ 20} pending in the stash.
 */
class KeyStateMigrationTest {
    private static final UpsertOptions OPTIONS = UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(null);

    /** The snapshot's scenario, up to the snapshot. */
    private static void scenario(OperatorDriver driver) throws Exception {
        driver.persistFrontier(Frontiers.EMPTY_STORE);
        driver.command(put("k", "a", 0, 0, 10));
        driver.command(put("j", "b", 0, 1, 10));
        driver.inputFrontier(11);
        driver.persistFrontier(11);
        driver.command(put("k", "c", 0, 2, 20));
    }

    /**
     * Writes this layout's snapshot for {@code backend} into the directory given by
     * {@code -Dupsert.writeSnapshots=<dir>} (skipped without it). Run it once per layout, on the
     * code of that layout, and keep the file.
     */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void writeSnapshot(Backend backend) throws Exception {
        String dir = System.getProperty("upsert.writeSnapshots");
        Assumptions.assumeTrue(dir != null, "-Dupsert.writeSnapshots=<dir> writes the snapshot files");
        Files.createDirectories(Paths.get(dir));
        try (OperatorDriver driver = new OperatorDriver(backend, OPTIONS)) {
            scenario(driver);
            OperatorSnapshotUtil.writeStateHandle(driver.snapshot().state(),
                    Paths.get(dir, "key-state-layout-1-" + backend.name().toLowerCase() + ".snapshot").toString());
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aSnapshotOfLayout1RestoresAndKeepsDraining(Backend backend) throws Exception {
        URL file = Objects.requireNonNull(getClass().getResource("/savepoints/key-state-layout-1-" + backend.name().toLowerCase() + ".snapshot"));
        OperatorSubtaskState state = OperatorSnapshotUtil.readStateHandle(Path.of(file.toURI()).toString());
        try (OperatorDriver driver = new OperatorDriver(backend, OPTIONS, 1, 0, state)) {
            driver.command(UpsertCommand.delete("j".getBytes(UTF_8), 0, 3, 30));
            driver.inputFrontier(Long.MAX_VALUE);
            driver.persistFrontier(Long.MAX_VALUE);
            assertEquals(List.of("(k, a, 20, -1)", "(k, c, 20, +1)", "(j, b, 30, -1)"),
                    driver.output().stream().filter(u -> !u.isProgress()).map(KeyStateMigrationTest::render).toList(),
                    "the pending k = c drains against the restored a; j's restored b is retracted");
            assertEquals(0, driver.stashEntries());
        }
    }

    /** {@code (key, value, time, diff)} with the value's text. */
    private static String render(Update update) {
        return "(" + UpsertCommand.keyOf(update.key()) + ", " + new String(update.value().bytes(), UTF_8) + ", " + update.time()
                + ", " + (update.diff() > 0 ? "+1" : "-1") + ")";
    }
}
