package io.upsertfeedback.job;

import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.testing.TcpProxy;
import io.upsertfeedback.operators.testing.Consolidation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import static io.upsertfeedback.job.LoopHarness.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 5, exactly once: the whole job (real broker, Bigtable emulator, local-directory long-term
 * tier, RocksDB, checkpoints every 300 ms) under failures and a storage outage. The oracle is the
 * last command per key in offset order, computed from what the test produced.
 */
class ExactlyOnceTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = LoopHarness.miniCluster(4);

    @RegisterExtension
    static final LoopHarness harness = new LoopHarness();

    /**
     * 20,000 commands on 2,000 keys over 40 ticks, run twice on the same topic into two stores:
     * failure-free, and with two failures at random points in each of the source, the operator and
     * the sink (between the long-term write and the tombstone swap), seed printed. Both stores equal
     * the oracle, both frontiers end at +inf (the final watermark), no orphan object or dangling
     * tombstone remains, and the committed changelogs, consolidated, are equal.
     *
     * <p>This test found the retime-after-restore bug: a restored operator must not adopt the
     * store's {@code P} (ahead of its checkpoint) as its state frontier; see
     * {@code Frontiers}, "P passing held commands".
     */
    @Test
    void failuresAtRandomPointsChangeNothing(@TempDir Path dir) throws Exception {
        long seed = Long.getLong("loop.seed", new Random().nextLong());
        System.out.println("ExactlyOnceTest seed " + seed + " (reproduce with -Dloop.seed=" + seed + ")");
        Random random = new Random(seed);
        Configuration clean = harness.conf("eo", dir, 4, Duration.ofSeconds(3));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("eo", input, 20_000, 2_000, 500, T0, random);

        CommittedChangelog cleanLog = new CommittedChangelog("eo-clean");
        JobClient first = LoopHarness.submit(clean, 2, Pipeline.Hooks.NONE, cleanLog, null);
        LoopHarness.awaitFinished(first, Duration.ofSeconds(90));
        LoopHarness.assertStore(clean, input.expected());
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(clean), "the frontier record is the final watermark");

        Configuration failing = harness.withStore(clean, "eo-failures", dir);
        InjectedFailures failures = InjectedFailures.plan("eo", random, 2, Map.of(
                InjectedFailures.Point.SOURCE, 18_000L, InjectedFailures.Point.OPERATOR, 30_000L, InjectedFailures.Point.SINK, 300L));
        System.out.println("ExactlyOnceTest failures: " + failures.describe());
        CommittedChangelog failingLog = new CommittedChangelog("eo-failures");
        JobClient second = LoopHarness.submit(failing, 2, failures.hooks(), failingLog, null);
        LoopHarness.awaitFinished(second, Duration.ofSeconds(120));
        System.out.println("ExactlyOnceTest: " + input.commands + " commands, " + failures.fired() + " injected failures: "
                + failures.describe());

        LoopHarness.assertStore(failing, input.expected());
        assertEquals(Long.MAX_VALUE, LoopHarness.frontier(failing), "the frontier record is the final watermark");
        Map<Consolidation.Row, Long> expected = Consolidation.consolidate(cleanLog.updates());
        Map<Consolidation.Row, Long> actual = Consolidation.consolidate(failingLog.updates());
        assertTrue(expected.size() > input.expected().size(), "the changelog has history, not only the final values");
        assertEquals(6, failures.fired(), "every planned failure was injected");
        if (!expected.equals(actual)) {
            Map<Consolidation.Row, Long> missing = new java.util.HashMap<>(expected);
            missing.entrySet().removeIf(e -> e.getValue().equals(actual.get(e.getKey())));
            Map<Consolidation.Row, Long> extra = new java.util.HashMap<>(actual);
            extra.entrySet().removeIf(e -> e.getValue().equals(expected.get(e.getKey())));
            throw new AssertionError("consolidated changelogs differ: " + expected.size() + " rows failure-free, "
                    + actual.size() + " with failures; only failure-free: " + missing.size() + ", e.g.\n"
                    + Consolidation.render(first(missing, 6)) + "\nonly with failures: " + extra.size() + ", e.g.\n"
                    + Consolidation.render(first(extra, 6)));
        }
    }

    private static Map<Consolidation.Row, Long> first(Map<Consolidation.Row, Long> rows, int n) {
        Map<Consolidation.Row, Long> some = new java.util.HashMap<>();
        rows.entrySet().stream().sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(Consolidation.Row::key)
                .thenComparingLong(Consolidation.Row::time))).limit(n).forEach(e -> some.put(e.getKey(), e.getValue()));
        return some;
    }

    /**
     * 10,000 commands; all connections between the Bigtable client and the emulator are cut for
     * 3 s mid-run. The persist frontier stands still during the outage, the job rides it out
     * (retries with backoff, backpressure) and finishes by itself; the store equals the oracle.
     */
    @Test
    void storageOutageIsRiddenOut(@TempDir Path dir) throws Exception {
        Random random = new Random(7);
        Configuration conf = harness.conf("outage", dir, 4, Duration.ofSeconds(2));
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("outage", input, 10_000, 1_000, 250, T0, random);
        String[] emulator = harness.bigtable.endpoint().split(":");
        try (TcpProxy proxy = new TcpProxy(emulator[0], Integer.parseInt(emulator[1]))) {
            conf.set(StoreOptions.BIGTABLE_EMULATOR_HOST, proxy.endpoint());
            conf.set(StoreOptions.RETRY_MAX_ATTEMPTS, 100);
            JobClient job = LoopHarness.submit(conf, 2, Pipeline.Hooks.NONE, null, null);
            LoopHarness.awaitFrontierPast(conf, job, T0 + 10_000, Duration.ofSeconds(60));
            proxy.cutOff();
            long cutAt = System.nanoTime();
            Configuration direct = conf.clone();
            direct.set(StoreOptions.BIGTABLE_EMULATOR_HOST, harness.bigtable.endpoint());
            long frozen = LoopHarness.frontier(direct);
            LoopHarness.await("a 3 s outage seen by the client", Duration.ofSeconds(30),
                    () -> proxy.refusedConnections() > 0 && System.nanoTime() - cutAt > Duration.ofSeconds(3).toNanos());
            assertEquals(frozen, LoopHarness.frontier(direct), "P stands still while storage is unreachable");
            proxy.restore();
            LoopHarness.awaitFinished(job, Duration.ofSeconds(90));
            System.out.println("storage outage: " + input.commands + " commands, " + proxy.refusedConnections()
                    + " connections refused during the outage");
            LoopHarness.assertStore(direct, input.expected());
        }
    }
}
