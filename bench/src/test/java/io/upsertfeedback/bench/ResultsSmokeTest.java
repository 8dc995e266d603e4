package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.CollectionDigest;
import io.upsertfeedback.bench.kafka.Loader;
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

    /** A store contender's result: finished or not, and the digest of what its store holds. */
    private static Map<String, String> store(long elapsedMs, boolean completed, long passed, CollectionDigest digest) {
        Map<String, String> r = run(elapsedMs, 0, 0);
        r.put("completed", String.valueOf(completed));
        r.put("passedCommands", String.valueOf(passed));
        r.put("tickMs", "1000");
        r.put("storeKeys", String.valueOf(digest.entries()));
        r.put("storeHash", digest.hash());
        return r;
    }

    @Test
    void tableChecksAndChart(@TempDir Path dir) throws Exception {
        Workload workload = Workload.defaults("t").with(Map.of("commands", "1000", "keys", "100"));
        Runner.Settings settings = new Runner.Settings(Map.of("sweep", "100,1000"), "cp", "cp", dir);
        Runner.Results results = new Runner.Results(Instant.now(), Machine.describe(), workload, settings);
        results.expected = workload.expected();
        long first = 1_700_000_000_000L;
        for (String contender : Runner.STORE_CONTENDERS) {
            Workload topic = Runner.Settings.topicOf(contender, workload);
            results.loaded.putIfAbsent(topic.topic(), new Loader.Loaded(first, topic.expected()));
        }
        CollectionDigest collection = workload.digest(first);
        long updates = results.expected.updates();
        long live = results.expected.liveKeys();
        results.add("ours", run(1000, updates, live));
        results.add("ours", run(3000, updates, live));
        results.add("ours", run(2000, updates, live));
        results.add("sql", run(4000, updates, live));
        results.add("ceiling", run(500, 1000, 1000));
        results.add("ours-end-to-end", store(2000, true, 1000, collection));
        Map<String, String> peer = store(4000, true, 1000, collection);
        peer.put("rowsWritten", "900");
        results.add("peer", peer);
        Map<String, String> ceiling = store(100, true, 1000, collection);
        ceiling.put("rowsWritten", String.valueOf(collection.entries()));
        results.add("emulator-ceiling", ceiling);
        results.add("backlog-one-tick", store(1000, true, 1000, Runner.Settings.topicOf("backlog-one-tick", workload).digest(first)));
        results.add("backlog-24h", store(1000, true, 1000, Runner.Settings.topicOf("backlog-24h", workload).digest(first)));
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
        assertTrue(table.contains("| peer | 1 ms apart | 250 | 225 |"), table);
        assertTrue(table.contains("| ours end to end / hand-rolled peer (commands/s) | >= 1.5 | 2.00 | yes |"), table);
        assertTrue(table.contains("| backlog over 24 h / same commands in one tick (commands/s) | >= 0.8 | 1.00 | yes |"), table);
        assertTrue(table.contains("| operator only: ours / Flink SQL (whole run) | >= 1.5 | 2.00 | yes |"), table);

        Path png = dir.resolve("chart.png");
        Chart.write(results, png);
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        assertEquals(Chart.WIDTH, image.getWidth());

        results.add("sql", run(4000, updates - 1, live));
        assertFalse(results.allChecksPass(), "a contender doing less must fail the check");
        assertTrue(results.markdown().contains("MISMATCH"));
        assertTrue(results.markdown().contains("| operator only: ours / Flink SQL (whole run) | >= 1.5 | 2.00 (a check failed) | no |"));
    }

    @Test
    void aStoreThatDiffersOrARunThatDidNotFinishFailsWhateverItsSpeed(@TempDir Path dir) throws Exception {
        Workload workload = Workload.defaults("t").with(Map.of("commands", "1000", "keys", "100"));
        Runner.Results results = new Runner.Results(Instant.now(), Machine.describe(), workload,
                new Runner.Settings(Map.of(), "cp", "cp", dir));
        long first = 1_700_000_000_000L;
        results.expected = workload.expected();
        results.loaded.put(workload.topic(), new Loader.Loaded(first, workload.expected()));
        Workload day = Runner.Settings.topicOf("backlog-24h", workload);
        results.loaded.put(day.topic(), new Loader.Loaded(first, day.expected()));

        CollectionDigest missingOne = new CollectionDigest();
        CollectionDigest staleOne = new CollectionDigest();
        boolean[] firstEntry = {true};
        workload.collection(first, (key, value) -> {
            if (!firstEntry[0]) {
                missingOne.add(key, value);
            }
            staleOne.add(key, firstEntry[0] ? "stale".getBytes() : value);
            firstEntry[0] = false;
        });
        assertTrue(results.check("ours-end-to-end", store(10, true, 1000, workload.digest(first))) == null);
        assertTrue(results.check("ours-end-to-end", store(10, true, 1000, missingOne)).contains("the store holds"));
        assertTrue(results.check("peer", store(10, true, 1000, staleOne)).contains("the store holds"));
        assertTrue(results.check("backlog-24h", store(10, true, 1000, workload.digest(first))) != null,
                "the backlog's values carry other times than the reference topic's");
        results.add("backlog-24h", store(60_000, false, 120, new CollectionDigest()));
        assertTrue(results.markdown().contains("FAILED: did not finish in 60 s: P passed 120 of 1,000 commands"), results.markdown());
        assertEquals(2.0, results.commandRate("backlog-24h"), 1e-9);
        assertFalse(results.allChecksPass());
    }
}
