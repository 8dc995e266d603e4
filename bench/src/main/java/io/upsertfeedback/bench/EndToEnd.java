package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.CollectionDigest;
import io.upsertfeedback.bench.kafka.Report;
import io.upsertfeedback.bench.kafka.Workload;
import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.job.Pipeline;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.BufferedMutator;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.ResultScanner;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.client.Table;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The contenders that write a store, each in its own JVM with its own Bigtable emulator (in
 * memory, so every run starts empty), reading the workload's topic from a shared broker:
 * <ul>
 *   <li>{@code ours-end-to-end}: the job as users run it: its own graph ({@link Pipeline}: Kafka
 *       source, the operator fed back by the store, the tiered store sink) with the job's default
 *       options ({@code flink-conf/config.yaml}: {@code upsert.tick} 1 s, checkpoints every 10 s,
 *       RocksDB), the store on the emulator with a local long-term directory, the source bounded
 *       at the end offsets as of the start. Timed from job submission until the store's persist
 *       frontier {@code P} passes the tick of the last input time (SPEC section 2: everything up
 *       to the last input is then in the store). The backlog runs are this contender on topics
 *       whose record times spread over a day or sit in one tick;</li>
 *   <li>{@code peer}: what a user would hand-roll: Flink SQL {@code upsert-kafka} read as a
 *       retracting changelog (the planner adds ChangelogNormalize) into {@link BufferedMutatorSink},
 *       on the same Flink configuration (checkpoints included); timed from submission to the end of
 *       the bounded job (everything flushed);</li>
 *   <li>{@code emulator-ceiling}: no Flink: the final collection's rows as {@link BufferedMutator}
 *       batched puts into the emulator, timed from the first put to the flush (after the same
 *       puts into another table, to warm up): the most any sink can write here.</li>
 * </ul>
 * Each then scans its store and reports its {@link CollectionDigest} ({@code storeKeys},
 * {@code storeHash}), which the runner checks against the workload's final collection.
 *
 * <p>Arguments: {@code --contender=... --bootstrap=host:port --parallelism=2 --first-timestamp=MS
 * --time-limit-seconds=N --conf-dir=flink-conf --flink.<key>=<value>...} plus the {@link Workload}
 * options. {@code --time-limit-seconds}: ours stops waiting for {@code P} then and reports
 * {@code completed=false} with how many commands {@code P} had passed ({@code passedCommands}).
 */
public final class EndToEnd {
    static final String TABLE = "bench";
    private static final String WARM_UP_TABLE = "warm-up";

    public static void main(String[] args) throws Exception {
        Report report = Report.sampling();
        Map<String, String> options = Workload.parseArgs(args);
        Workload workload = Workload.defaults("commands").with(options);
        String contender = options.get("contender");
        long firstTimestamp = Long.parseLong(options.get("first-timestamp"));
        Path dir = Files.createTempDirectory("bench-" + contender);
        try (EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            report.put("contender", contender).put("commands", workload.commands());
            switch (contender) {
                case "ours-end-to-end" -> ours(bigtable, workload, firstTimestamp, options, dir, report);
                case "peer" -> peer(bigtable, workload, options, dir, report);
                case "emulator-ceiling" -> ceiling(bigtable, workload, firstTimestamp, report);
                default -> throw new IllegalArgumentException("unknown contender " + contender);
            }
        }
        report.print();
        System.exit(0); // Flink's, Kafka's and gRPC's threads would keep the JVM alive
    }

    /** The job's configuration as users run it, on this local cluster, with this run's broker, topic and store. */
    private static Configuration jobConfiguration(Map<String, String> options, Path dir) {
        Configuration defaults = GlobalConfiguration.loadConfiguration(options.getOrDefault("conf-dir", "flink-conf"));
        Configuration conf = FlinkContender.clusterConfiguration(defaults, options);
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.resolve("checkpoints").toUri().toString());
        conf.set(RestOptions.BIND_PORT, "0"); // other local clusters may hold the configured port
        return conf;
    }

    private static void ours(EmbeddedBigtable bigtable, Workload workload, long firstTimestamp, Map<String, String> options,
                             Path dir, Report report) throws Exception {
        Configuration conf = jobConfiguration(options, dir);
        conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, options.get("bootstrap"));
        conf.set(KafkaIngestOptions.TOPIC, workload.topic());
        conf.set(KafkaIngestOptions.DEAD_LETTER_TOPIC, workload.topic() + "-dead-letters");
        conf.set(KafkaIngestOptions.GROUP_ID, "bench-" + System.nanoTime());
        conf.addAll(bigtable.storeConfig(TABLE, dir.resolve("long-term")));
        long tick = conf.get(UpsertOptions.TICK).toMillis();
        long lastTick = Math.floorDiv(firstTimestamp + workload.timeOffset(workload.commands() - 1), tick) * tick;
        long limit = TimeUnit.SECONDS.toNanos(Long.parseLong(options.getOrDefault("time-limit-seconds", "3600")));

        try (StoreHandle store = Stores.open(conf, "bench-client")) {
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(
                    Integer.parseInt(options.getOrDefault("parallelism", "2")), conf);
            Pipeline.build(env, conf, true);
            long start = System.nanoTime();
            JobClient job = env.executeAsync("upsert-feedback (bench)");
            long persist = Long.MIN_VALUE;
            boolean timedOut = false;
            while (persist <= lastTick) {
                if (job.getJobStatus().get().isGloballyTerminalState()) {
                    throw new IllegalStateException("the job ended before P passed the last input time: "
                            + job.getJobStatus().get());
                }
                if (System.nanoTime() - start > limit) {
                    timedOut = true;
                    break;
                }
                TimeUnit.MILLISECONDS.sleep(20);
                persist = store.frontier().read().p();
            }
            long elapsed = System.nanoTime() - start;
            job.cancel().get(1, TimeUnit.MINUTES);
            long passed = 0;
            while (passed < workload.commands() && firstTimestamp + workload.timeOffset(passed) < persist) {
                passed++;
            }
            report.put("elapsedMs", TimeUnit.NANOSECONDS.toMillis(elapsed))
                    .put("completed", !timedOut)
                    .put("passedCommands", passed)
                    .put("tickMs", tick);
            CollectionDigest digest = new CollectionDigest();
            try (CloseableIterator<StoredEntry> entries = store.store().scan(null)) {
                while (entries.hasNext()) {
                    StoredEntry e = entries.next();
                    digest.add(e.key(), e.value().bytes());
                }
            }
            report.put("storeKeys", digest.entries()).put("storeHash", digest.hash());
        }
    }

    private static void peer(EmbeddedBigtable bigtable, Workload workload, Map<String, String> options, Path dir, Report report)
            throws Exception {
        bigtable.createTable(TABLE);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(
                Integer.parseInt(options.getOrDefault("parallelism", "2")), jobConfiguration(options, dir));
        FlinkContender.sql(env, options.get("bootstrap"), workload.topic()).sinkTo(new BufferedMutatorSink(bigtable.endpoint(), TABLE));
        long start = System.nanoTime();
        env.execute("peer");
        report.put("elapsedMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
                .put("completed", true)
                .put("rowsWritten", BufferedMutatorSink.WRITERS.stream().mapToLong(w -> w.rowsWritten).sum());
        tableDigest(bigtable, report);
    }

    private static void ceiling(EmbeddedBigtable bigtable, Workload workload, long firstTimestamp, Report report) throws Exception {
        bigtable.createTable(TABLE);
        bigtable.createTable(WARM_UP_TABLE);
        List<Put> puts = new ArrayList<>();
        workload.collection(firstTimestamp, (key, value) ->
                puts.add(new Put(key).addColumn(BufferedMutatorSink.FAMILY, BufferedMutatorSink.QUALIFIER, value)));
        try (Connection connection = bigtable.connect()) {
            putAll(connection, WARM_UP_TABLE, puts); // the client's channels and the JIT warm up, as in a long-running sink
            long start = System.nanoTime();
            putAll(connection, TABLE, puts);
            report.put("elapsedMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
                    .put("completed", true)
                    .put("rowsWritten", puts.size());
        }
        tableDigest(bigtable, report);
    }

    private static void putAll(Connection connection, String table, List<Put> puts) throws Exception {
        try (BufferedMutator mutator = connection.getBufferedMutator(TableName.valueOf(table))) {
            for (Put put : puts) {
                mutator.mutate(put);
            }
            mutator.flush();
        }
    }

    /** The digest of the plain table the peer and the ceiling wrote. */
    private static void tableDigest(EmbeddedBigtable bigtable, Report report) throws Exception {
        CollectionDigest digest = new CollectionDigest();
        try (Connection connection = bigtable.connect();
             Table table = connection.getTable(TableName.valueOf(TABLE));
             ResultScanner rows = table.getScanner(new Scan().addColumn(BufferedMutatorSink.FAMILY, BufferedMutatorSink.QUALIFIER))) {
            for (Result row : rows) {
                digest.add(row.getRow(), row.getValue(BufferedMutatorSink.FAMILY, BufferedMutatorSink.QUALIFIER));
            }
        }
        report.put("storeKeys", digest.entries()).put("storeHash", digest.hash());
    }
}
