package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFilterFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sink on a MiniCluster: an operator-shaped update stream (retraction/insert pairs, lone
 * retractions, progress markers, event-time watermarks) flows through two sink subtasks into the
 * store, which must then equal an independently computed oracle while the frontier row reaches the
 * final watermark with the last positions; and a second job with another writer epoch fails fast.
 */
class TieredStoreSinkTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

    @TempDir
    Path dir;

    private Configuration storeConfig(String table) {
        Configuration conf = TestBigtable.emulator().storeConfig(table, dir.resolve("objects"));
        conf.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse("1kb"));
        conf.set(TieredStoreSink.WINDOW_SIZE, 8);
        conf.set(TieredStoreSink.CONSOLIDATION_BUFFER, 16);
        return conf;
    }

    /** What an operator emits for random upserts and deletes over 30 keys and 40 times; fills {@code oracle}. */
    private static List<Update> operatorOutput(Random random, Map<String, UpsertValue> oracle) {
        List<Update> out = new ArrayList<>();
        Map<String, UpsertValue> prior = new HashMap<>();
        long offset = 0;
        for (long t = 1; t <= 40; t++) {
            for (int k = 0; k < 30; k++) {
                if (random.nextInt(3) != 0) {
                    continue;
                }
                byte[] key = ("key-" + k).getBytes(UTF_8);
                String fk = UpsertCommand.keyOf(key);
                UpsertValue p = prior.get(fk);
                offset++;
                if (random.nextInt(6) == 0) {
                    if (p != null) {
                        out.add(Update.retract(key, p, t, 0, offset));
                        prior.remove(fk);
                    }
                    continue;
                }
                byte[] bytes = new byte[random.nextInt(4) == 0 ? 3000 : 40];
                random.nextBytes(bytes);
                UpsertValue x = random.nextInt(10) == 0 ? UpsertValue.error(bytes, "undecodable") : UpsertValue.of(bytes);
                if (p != null) {
                    out.add(Update.retract(key, p, t, 0, offset));
                }
                out.add(Update.insert(key, x, t, 0, offset));
                prior.put(fk, x);
            }
            out.add(Update.progress(t + 1, Map.of(0, offset + 1, 1, 1000 + t)));
        }
        oracle.putAll(prior);
        return out;
    }

    @Test
    void updatesReachTheStoreAndTheFrontierReachesTheFinalWatermark() throws Exception {
        String table = TestBigtable.freshTable("sink");
        Configuration conf = storeConfig(table);
        Map<String, UpsertValue> oracle = new HashMap<>();
        List<Update> updates = operatorOutput(new Random(11), oracle);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromData(updates, UpdateSerializer.TYPE_INFO).setParallelism(1)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Update>forMonotonousTimestamps().withTimestampAssigner((u, ts) -> u.time()))
                .setParallelism(1)
                .broadcast()
                .filter(new OwnShare()).setParallelism(2)
                .sinkTo(TieredStoreSink.builder().setStoreConfig(conf).build()).setParallelism(2);
        env.execute("sink");

        try (StoreHandle handle = Stores.open(conf, "test-reader")) {
            Map<String, UpsertValue> stored = new HashMap<>();
            for (Map.Entry<String, StoredEntry> e : handle.store().snapshot().entrySet()) {
                stored.put(e.getKey(), e.getValue().value());
            }
            assertEquals(oracle, stored);
            FrontierState frontier = handle.frontier().read();
            assertEquals(Long.MAX_VALUE, frontier.p(), "the final watermark is acknowledged");
            assertEquals(Map.of(0, updates.stream().filter(Update::isProgress).reduce((a, b) -> b).orElseThrow().positions().get(0),
                    1, 1040L), frontier.positions());
            // the finished job released its lease: a next job (another epoch) may take over right away
            handle.frontier().claim("next-job", 0, 2, TieredStoreSink.WRITER_LEASE.defaultValue());
            assertEquals(frontier, handle.frontier().read(), "taking over keeps P and positions");
        }
    }

    static final AtomicBoolean FAILED_ONCE = new AtomicBoolean();

    /** Fails the job once, after some updates reached the store, so the restarted job replays them. */
    private static final class FailOnce implements MapFunction<Update, Update> {
        private int seen;

        @Override
        public Update map(Update u) {
            if (++seen == 300 && FAILED_ONCE.compareAndSet(false, true)) {
                throw new IllegalStateException("injected failover");
            }
            return u;
        }
    }

    @Test
    void aFailoverReplaysUpdatesIntoTheSameStore() throws Exception {
        String table = TestBigtable.freshTable("failover");
        Configuration conf = storeConfig(table);
        Map<String, UpsertValue> oracle = new HashMap<>();
        List<Update> updates = operatorOutput(new Random(12), oracle);

        Configuration jobConf = new Configuration();
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ZERO);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(jobConf);
        env.enableCheckpointing(50);
        env.fromData(updates, UpdateSerializer.TYPE_INFO).setParallelism(1)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Update>forMonotonousTimestamps().withTimestampAssigner((u, ts) -> u.time()))
                .setParallelism(1)
                .broadcast()
                .filter(new OwnShare()).setParallelism(2)
                .map(new FailOnce()).returns(UpdateSerializer.TYPE_INFO).setParallelism(2)
                .sinkTo(TieredStoreSink.builder().setStoreConfig(conf).build()).setParallelism(2);
        env.execute("failover");

        assertTrue(FAILED_ONCE.get(), "the job failed over once");
        try (StoreHandle handle = Stores.open(conf, "test-reader")) {
            Map<String, UpsertValue> stored = new HashMap<>();
            handle.store().snapshot().forEach((k, e) -> stored.put(k, e.value()));
            assertEquals(oracle, stored, "replayed writes are idempotent and never go back in time");
            assertEquals(Long.MAX_VALUE, handle.frontier().read().p());
        }
        // issue 11, "the store only grows": the final checkpoint's committer collected every deletion marker
        assertTrue(updates.stream().anyMatch(u -> !u.isProgress() && u.diff() < 0
                && updates.stream().noneMatch(v -> !v.isProgress() && v.diff() > 0 && Arrays.equals(v.key(), u.key()) && v.time() == u.time())),
                "the input deletes keys");
        List<String> rows = new ArrayList<>();
        try (HighVolumeTier raw = new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
             CloseableIterator<StoredRow> it = raw.scan(null)) {
            it.forEachRemaining(r -> rows.add(new String(r.key(), UTF_8) + "=" + r.state().kind()));
        }
        assertEquals(oracle.size(), rows.size(), "one row per live key, no deletion marker left: " + rows);
    }

    /** Each subtask keeps its share of the keys and every progress marker (as forward from a keyed operator). */
    private static final class OwnShare extends RichFilterFunction<Update> {
        private int index;
        private int parallelism;

        @Override
        public void open(OpenContext context) {
            index = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
            parallelism = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        }

        @Override
        public boolean filter(Update u) {
            return u.isProgress() || Math.floorMod(Arrays.hashCode(u.key()), parallelism) == index;
        }
    }

    static final CountDownLatch FIRST_JOB_RUNNING = new CountDownLatch(1);
    static final CountDownLatch RELEASE_FIRST_JOB = new CountDownLatch(1);

    /** Holds the last update until released, so the first job keeps its writer lease. */
    private static final class HoldLast implements MapFunction<Update, Update> {
        @Override
        public Update map(Update u) throws Exception {
            if (!u.isProgress() && new String(u.key(), UTF_8).equals("last")) {
                FIRST_JOB_RUNNING.countDown();
                assertTrue(RELEASE_FIRST_JOB.await(60, TimeUnit.SECONDS));
            }
            return u;
        }
    }

    @Test
    void aSecondJobWithAnotherEpochFailsFast() throws Exception {
        String table = TestBigtable.freshTable("fencing");
        Configuration conf = storeConfig(table);
        TieredStoreSink first = TieredStoreSink.builder().setStoreConfig(conf).build();
        StreamExecutionEnvironment envA = StreamExecutionEnvironment.getExecutionEnvironment();
        envA.fromData(List.of(Update.insert("a".getBytes(UTF_8), UpsertValue.of(new byte[] {1}), 1, 0, 1),
                        Update.insert("last".getBytes(UTF_8), UpsertValue.of(new byte[] {2}), 2, 0, 2)), UpdateSerializer.TYPE_INFO)
                .setParallelism(1).map(new HoldLast()).returns(UpdateSerializer.TYPE_INFO).setParallelism(1)
                .sinkTo(first).setParallelism(1);
        JobClient a = envA.executeAsync("first writer");
        try {
            assertTrue(FIRST_JOB_RUNNING.await(60, TimeUnit.SECONDS), "the first job runs");

            TieredStoreSink second = TieredStoreSink.builder().setStoreConfig(conf).build();
            StreamExecutionEnvironment envB = StreamExecutionEnvironment.getExecutionEnvironment();
            envB.fromData(List.of(Update.insert("b".getBytes(UTF_8), UpsertValue.of(new byte[] {3}), 1, 0, 1)), UpdateSerializer.TYPE_INFO)
                    .setParallelism(1).sinkTo(second).setParallelism(1);
            long start = System.nanoTime();
            Exception failure = assertThrows(Exception.class, () -> envB.execute("second writer"));
            FencedException fenced = ExceptionUtils.findThrowable(failure, FencedException.class)
                    .orElseThrow(() -> new AssertionError("not fenced", failure));
            assertTrue(fenced.getMessage().contains(first.epoch()), fenced.getMessage());
            assertTrue(fenced.getMessage().contains(table), "names the store: " + fenced.getMessage());
            assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) < 30, "fails fast, without restarts");
        } finally {
            RELEASE_FIRST_JOB.countDown();
        }
        a.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        try (StoreHandle handle = Stores.open(conf, "test-reader")) {
            assertNull(handle.frontier().leaseHolder(), "the first job released its lease at the end of its input");
            assertEquals(Long.MAX_VALUE, handle.frontier().read().p());
            assertEquals(2, handle.store().snapshot().size(), "the second job wrote nothing");
        }
    }
}
