package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.Workload;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runner's report side (checks, table, chart) on made-up results; part of the smoke run in {@code mvn verify}. */
class ResultsSmokeTest {

    private static Map<String, String> run(long elapsedMs, long updates, long live) {
        return new HashMap<>(Map.of("elapsedMs", String.valueOf(elapsedMs), "steadyMs", String.valueOf(elapsedMs / 2),
                "updates", String.valueOf(updates), "live", String.valueOf(live),
                "heapPeakBytes", String.valueOf(200L << 20), "rssBytes", String.valueOf(500L << 20)));
    }

    @Test
    void tableChecksAndChart(@TempDir Path dir) throws Exception {
        Workload workload = Workload.defaults("t").with(Map.of("commands", "1000", "keys", "100"));
        Runner.Settings settings = new Runner.Settings(Map.of("sweep", "100,1000"), "cp", "cp", dir);
        Runner.Results results = new Runner.Results(Instant.now(), Machine.describe(), workload, settings);
        results.expected = workload.expected();
        long updates = results.expected.updates();
        long live = results.expected.liveKeys();
        results.add("ours", run(1000, updates, live));
        results.add("ours", run(3000, updates, live));
        results.add("ours", run(2000, updates, live));
        results.add("sql", run(4000, updates, live));
        results.add("ceiling", run(500, 1000, 1000));
        results.sweep.add(new Runner.Results.SweepPoint(100, Workload.snapshot("s", 100, 10, 1).expected(), run(100, 100, 100)));
        results.jmh = List.of(new Jmh.Score("OperatorHotPath.stash", 1000, 10, "ops/s"));
        results.finished = Instant.now();
        results.loadAfter = Machine.load();

        assertEquals(500, results.medianRate("ours", "elapsedMs"), 1e-9);
        assertTrue(results.allChecksPass());
        String table = results.markdown();
        assertTrue(table.contains("| sql | 250 | 0.50 |"), table);
        assertTrue(table.contains("| ceiling | 2,000 | 4.00 |"), table);
        assertTrue(table.contains("OperatorHotPath.stash"), table);

        Path png = dir.resolve("chart.png");
        Chart.write(results, png);
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        assertEquals(1200, image.getWidth());

        results.add("sql", run(4000, updates - 1, live));
        assertFalse(results.allChecksPass(), "a contender doing less must fail the check");
        assertTrue(results.markdown().contains("MISMATCH"));
    }
}
