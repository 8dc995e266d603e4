package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.TierWrapper;
import io.upsertfeedback.connectors.store.bigtable.BigtableFrontier;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real parts of the feedback-loop tests: a KRaft broker, the Bigtable emulator, a local-directory
 * long-term tier, the job's configuration for one test (its own topic and table), an input of
 * random upsert commands with its independent oracle (the last command per key in the order it was
 * produced, which is offset order: one producer, keys hashed to partitions), and checks of a store
 * against the oracle and the tiered-store invariants. Waiting is polling an observable condition
 * with a deadline, never a sleep. A JUnit extension: a test class registers one in a static field
 * and the broker and the emulator run from before its first test to after its last.
 */
final class LoopHarness implements BeforeAllCallback, AfterAllCallback {
    /**
     * Times start an hour ago, whole seconds: old enough for any broker clock, young enough that
     * the broker's 7-day retention never deletes the test's records while a second job still
     * needs them.
     */
    static final long T0 = (System.currentTimeMillis() / 1000 - 3600) * 1000;
    /** Values above this many bytes (encoded) go to the long-term tier. */
    static final int INLINE_THRESHOLD = 2048;

    /**
     * The MiniCluster a loop test runs on: one task manager with {@code slots} slots and the
     * metric reporter {@link ProgressMetrics} reads (so tests observe the operator's metrics).
     */
    static MiniClusterExtension miniCluster(int slots) {
        Configuration cluster = new Configuration();
        ProgressMetrics.reporterConfig().forEach(cluster::setString);
        cluster.set(MetricOptions.REPORTER_INTERVAL, Duration.ofSeconds(1));
        return new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
                .setConfiguration(cluster).setNumberTaskManagers(1).setNumberSlotsPerTaskManager(slots).build());
    }

    /**
     * Whether {@code flink-conf/config.yaml} ships unaligned checkpoints
     * ({@code execution.checkpointing.unaligned.enabled}): the loop tests fail and restore jobs
     * checkpointed the way users' jobs are, in-flight records stored with the checkpoint included.
     */
    static final boolean SHIPPED_UNALIGNED = GlobalConfiguration.loadConfiguration(
            Path.of("").toAbsolutePath().getParent().resolve("flink-conf").toString()).get(CheckpointingOptions.ENABLE_UNALIGNED);

    /** The Bigtable client logs through java.util.logging: errors only (held here so the setting sticks). */
    private static final Logger GOOGLE_LOGS = Logger.getLogger("com.google");

    static {
        GOOGLE_LOGS.setLevel(Level.SEVERE);
    }

    EmbeddedKafka kafka;
    EmbeddedBigtable bigtable;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        kafka = EmbeddedKafka.start();
        bigtable = EmbeddedBigtable.start();
    }

    /**
     * A job configuration on topic and table {@code name} ({@code partitions} partitions), tick 1 s,
     * the given lead ({@code null}: the default, unbounded), RocksDB, checkpoints under {@code dir}, a 20 ms feedback poll and a short
     * writer lease (so a test's next job need not wait 30 s for a stopped one's lease).
     */
    Configuration conf(String name, Path dir, int partitions, Duration lead) throws InterruptedException {
        kafka.createTopic(name, partitions);
        kafka.createTopic(name + "-dead", 1);
        Configuration conf = bigtable.storeConfig(name, dir.resolve("long-term"));
        conf.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse(INLINE_THRESHOLD + "b"));
        conf.set(StoreOptions.RETRY_INITIAL_BACKOFF, Duration.ofMillis(20));
        conf.set(StoreOptions.RETRY_MAX_BACKOFF, Duration.ofMillis(500));
        conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        conf.set(KafkaIngestOptions.TOPIC, name);
        conf.set(KafkaIngestOptions.DEAD_LETTER_TOPIC, name + "-dead");
        conf.set(UpsertOptions.TICK, Duration.ofSeconds(1));
        if (lead != null) {
            conf.set(UpsertOptions.LEAD, lead);
        }
        conf.set(FeedbackSource.POLL_INTERVAL, Duration.ofMillis(20));
        conf.set(TieredStoreSink.WRITER_LEASE, Duration.ofSeconds(2));
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.resolve("checkpoints").toUri().toString());
        return conf;
    }

    /** {@code conf} pointed at another store: table {@code table}, long-term objects under {@code dir}. */
    Configuration withStore(Configuration conf, String table, Path dir) {
        Configuration other = conf.clone();
        other.addAll(bigtable.storeConfig(table, dir.resolve("long-term-" + table)));
        return other;
    }

    /**
     * Runs the pipeline (bounded input, parallelism {@code parallelism}, checkpoints every 300 ms,
     * aligned or not as {@link #SHIPPED_UNALIGNED shipped}, up to 30 restarts 100 ms apart) with {@code hooks}, its changelog into {@code changelog} when
     * given. Returns the running job.
     */
    static JobClient submit(Configuration conf, int parallelism, Pipeline.Hooks hooks, CommittedChangelog changelog,
                            String savepoint) throws Exception {
        return submit(conf, parallelism, hooks, changelog, savepoint, true, true);
    }

    /**
     * As above; {@code bounded = false} reads the topic on (records produced later too) until
     * cancelled; {@code checkpoints = false} runs without checkpoints.
     */
    static JobClient submit(Configuration conf, int parallelism, Pipeline.Hooks hooks, CommittedChangelog changelog,
                            String savepoint, boolean bounded, boolean checkpoints) throws Exception {
        Configuration jobConf = conf.clone();
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 30);
        jobConf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
        if (savepoint != null) {
            jobConf.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(jobConf);
        env.setParallelism(parallelism);
        if (checkpoints) {
            env.enableCheckpointing(300);
            env.getCheckpointConfig().enableUnalignedCheckpoints(SHIPPED_UNALIGNED);
        }
        Pipeline.Built built = Pipeline.build(env, jobConf, bounded, hooks);
        if (changelog != null) {
            built.updates().sinkTo(changelog).name("committed-changelog").setParallelism(built.updates().getParallelism());
        }
        return env.executeAsync("loop-test");
    }

    /** Waits until the job finished (its bounded input done and {@code P = +inf}), failing if it failed. */
    static void awaitFinished(JobClient job, Duration timeout) throws Exception {
        job.getJobExecutionResult().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Random upsert commands, the independent oracle of their final collection, and their last time. */
    static final class Input {
        /**
         * Key -> the value of the last command per key ({@link #render rendered}: the value names
         * its key and command, so the rendering identifies it), {@code null} for a delete. Kept
         * small so the oracle itself does not weigh on the heap of the stall test.
         */
        final Map<String, String> last = new HashMap<>();
        long maxTime;
        int commands;

        /** The oracle: every key whose last command is a put, with that value. */
        Map<String, String> expected() {
            Map<String, String> live = new HashMap<>(last);
            live.values().removeIf(v -> v == null);
            return live;
        }
    }

    /**
     * Produces {@code commands} commands over {@code keys} keys into {@code topic}: 10% deletes, 3%
     * values above the inline threshold, the rest small; times advance one second every
     * {@code perSecond} commands from {@code startTime} (non-decreasing, so no command is ever late).
     */
    void produce(String topic, Input input, int commands, int keys, int perSecond, long startTime, Random random)
            throws Exception {
        produce(topic, input, commands, keys, perSecond, startTime, random, 16);
    }

    /** As above, small values of {@code smallSize} bytes. */
    void produce(String topic, Input input, int commands, int keys, int perSecond, long startTime, Random random,
                 int smallSize) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
            await("leaders for every partition of " + topic, Duration.ofSeconds(30),
                    () -> producer.partitionsFor(topic).stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
            List<Future<RecordMetadata>> sent = new ArrayList<>(commands);
            for (int i = 0; i < commands; i++) {
                long time = startTime + (long) i / perSecond * 1000;
                String key = "k" + random.nextInt(keys);
                double dice = random.nextDouble();
                byte[] value = dice < 0.10 ? null : value(key, input.commands + i, dice < 0.13 ? INLINE_THRESHOLD * 2 : smallSize);
                sent.add(producer.send(new ProducerRecord<>(topic, null, time, key.getBytes(StandardCharsets.UTF_8), value)));
                input.last.put(key, value == null ? null : render(value));
                input.maxTime = Math.max(input.maxTime, time);
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                f.get(); // a lost record would make the oracle wrong: fail here instead
            }
        }
        input.commands += commands;
    }

    /** One record for {@link #send}: partition, record time, key, value ({@code null}: a delete). */
    record Sent(int partition, long time, String key, String value) {
    }

    /** Sends {@code records} to {@code topic} in this order, each to its partition with its record time. */
    void send(String topic, Sent... records) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
            for (Sent r : records) {
                producer.send(new ProducerRecord<>(topic, r.partition(), r.time(), r.key().getBytes(StandardCharsets.UTF_8),
                        r.value() == null ? null : r.value().getBytes(StandardCharsets.UTF_8))).get();
            }
        }
    }

    private static byte[] value(String key, int sequence, int size) {
        byte[] prefix = (key + "@" + sequence + ":").getBytes(StandardCharsets.UTF_8);
        byte[] value = Arrays.copyOf(prefix, Math.max(size, prefix.length));
        Random filler = new Random(sequence);
        for (int i = prefix.length; i < value.length; i++) {
            value[i] = (byte) ('a' + filler.nextInt(26)); // incompressible enough to stay above the inline threshold
        }
        return value;
    }

    /** The store's persist frontier {@code P}. */
    static long frontier(Configuration conf) throws Exception {
        return FeedbackSource.readFrontier(conf).p();
    }

    /** Waits until {@code P} passed {@code time} (every update at {@code time} is durable), failing early if the job died. */
    static void awaitFrontierPast(Configuration conf, JobClient job, long time, Duration timeout) throws Exception {
        await("persist frontier past " + time, timeout, () -> {
            try {
                if (frontier(conf) > time) {
                    return true;
                }
                JobStatus status = job.getJobStatus().get(10, TimeUnit.SECONDS);
                if (status.isGloballyTerminalState()) {
                    fail("the job ended (" + status + ") before the persist frontier passed " + time + "; P = " + frontier(conf));
                }
                return false;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Polls {@code condition} every 20 ms until it holds; fails after {@code timeout}. */
    static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout + " waiting for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    static void cancelQuietly(JobClient job) throws Exception {
        if (!job.getJobStatus().get().isGloballyTerminalState()) {
            job.cancel().get(60, TimeUnit.SECONDS);
        }
        await("job terminal", Duration.ofSeconds(60), () -> job.getJobStatus().join().isGloballyTerminalState());
    }

    /**
     * The store equals {@code expected} (key -> rendered value), and the tiered-store invariants hold:
     * every long-term object is referenced by exactly one live tombstone (no orphan), every
     * tombstone's object exists (no dangling tombstone), no cleanup note is left.
     */
    static void assertStore(Configuration conf, Map<String, String> expected) throws Exception {
        HighVolumeTier[] highVolume = new HighVolumeTier[1];
        LongTermTier[] longTerm = new LongTermTier[1];
        TierWrapper capture = new TierWrapper() {
            @Override
            public HighVolumeTier highVolume(HighVolumeTier tier) {
                return highVolume[0] = tier;
            }

            @Override
            public LongTermTier longTerm(LongTermTier tier) {
                return longTerm[0] = tier;
            }
        };
        try (StoreHandle handle = Stores.open(conf, "loop-test-reader", capture)) {
            Map<String, StoredEntry> contents = handle.store().snapshot();
            Map<String, String> actual = new HashMap<>();
            contents.values().forEach(e -> actual.put(new String(e.key(), StandardCharsets.UTF_8), render(e.value().bytes())));
            Map<String, String> wanted = expected;
            if (!wanted.equals(actual)) {
                Set<String> differing = new HashSet<>(wanted.keySet());
                differing.addAll(actual.keySet());
                differing.removeIf(k -> java.util.Objects.equals(wanted.get(k), actual.get(k)));
                StringBuilder diff = new StringBuilder();
                differing.stream().sorted().limit(10).forEach(k -> diff.append("\n  ").append(k).append(": expected ")
                        .append(wanted.get(k)).append(", stored ").append(actual.get(k)));
                fail(differing.size() + " of " + wanted.size() + " keys differ from the oracle:" + diff);
            }
            Set<String> targets = new HashSet<>();
            try (CloseableIterator<StoredRow> rows = highVolume[0].scan(null)) {
                while (rows.hasNext()) {
                    RowState state = rows.next().state();
                    if (state.kind() == RowState.Kind.TOMBSTONE) {
                        assertTrue(targets.add(state.target()), "two tombstones point at " + state.target());
                    }
                }
            }
            Set<String> objects = new HashSet<>(longTerm[0].list());
            Set<String> dangling = new HashSet<>(targets);
            dangling.removeAll(objects);
            assertEquals(Set.of(), dangling, "dangling tombstones (their object is missing)");
            Set<String> orphans = new HashSet<>(objects);
            orphans.removeAll(targets);
            assertEquals(Set.of(), orphans, "orphan long-term objects (no tombstone references them)");
            assertEquals(0, highVolume[0].listPending().size(), "cleanup notes left behind");
        }
    }

    /** A value as {@code key@sequence/length}: its prefix up to ':' (which names the command) and its length. */
    private static String render(byte[] value) {
        String text = new String(value, StandardCharsets.UTF_8);
        int colon = text.indexOf(':');
        return (colon < 0 ? text : text.substring(0, colon)) + "/" + value.length;
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        try (EmbeddedKafka k = kafka; EmbeddedBigtable b = bigtable) {
            // closes both
        }
    }
}
