package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.Loader;
import io.upsertfeedback.bench.kafka.Report;
import io.upsertfeedback.bench.kafka.Workload;
import io.upsertfeedback.connectors.kafka.KafkaCommandSource;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedback;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One Flink contender in its own JVM, on a local cluster with the RocksDB state backend (with
 * bloom filters and 512 MB of managed memory; {@code --flink.*} options override):
 * <ul>
 *   <li>{@code ours}: the project's pipeline, Kafka command source, keyBy, the upsert feedback
 *       operator with no feedback, a discarding sink;</li>
 *   <li>{@code sql}: Flink SQL, an {@code upsert-kafka} table read into a changelog stream with
 *       retractions, so the planner adds ChangelogNormalize (UPDATE_BEFORE from keyed state);</li>
 *   <li>{@code ceiling}: the same Kafka command source and deserialization as ours, no state.</li>
 * </ul>
 * Each reads the topic from the earliest to the end offsets as of its start and prints a
 * {@link Report}: updates and live keys counted by the {@link CountingSink}, the time from job
 * submission ({@code elapsedMs}) and from the first sink element ({@code steadyMs}) to the last one.
 *
 * <p>With {@code --latency-rate=R} (ours only) the source is unbounded and this process itself
 * produces the workload at R records/s, then reports the percentiles of the inserts' latency from
 * send to sink.
 *
 * <p>Arguments: {@code --contender=ours|sql|ceiling --bootstrap=host:port --parallelism=2
 * --tick-ms=1 --retained-heap-every-ms=N --flink.<key>=<value>...} plus the {@link Workload} options
 * ({@code --retained-heap-every-ms}: see {@link Report#sampleRetainedHeap}).
 */
public final class FlinkContender {
    /** {@code --flink.<key>=<value>} sets a Flink configuration option of the local cluster. */
    static final String FLINK_OPTION_PREFIX = "flink.";
    static final String ROCKSDB_BLOOM_FILTER = "state.backend.rocksdb.use-bloom-filter";

    public static void main(String[] args) throws Exception {
        Report report = Report.sampling();
        Map<String, String> options = Workload.parseArgs(args);
        Workload workload = Workload.defaults("commands").with(options);
        String contender = options.get("contender");
        String bootstrap = options.get("bootstrap");
        int parallelism = Integer.parseInt(options.getOrDefault("parallelism", "2"));
        Duration tick = Duration.ofMillis(Long.parseLong(options.getOrDefault("tick-ms", "1")));
        int latencyRate = Integer.parseInt(options.getOrDefault("latency-rate", "0"));
        if (options.containsKey("retained-heap-every-ms")) {
            report.sampleRetainedHeap(Long.parseLong(options.get("retained-heap-every-ms")));
        }

        Configuration conf = clusterConfiguration(new Configuration(), options);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
        switch (contender) {
            case "ours" -> UpsertFeedback.apply(commands(env, bootstrap, workload.topic(), tick, latencyRate == 0),
                            UpsertFeedback.noFeedback(env), UpsertOptions.fromConfiguration(conf).withTick(tick).withLead(tick))
                    .sinkTo(new CountingSink<Update>(u -> u.isProgress() ? 0 : u.diff(), latencyRate > 0 ? u -> u.value().bytes() : null));
            case "ceiling" -> commands(env, bootstrap, workload.topic(), tick, true).sinkTo(new CountingSink<UpsertCommand>(c -> 1));
            case "sql" -> sql(env, bootstrap, workload.topic()).sinkTo(new CountingSink<Row>(FlinkContender::diffOfRow));
            default -> throw new IllegalArgumentException("unknown contender " + contender);
        }

        long start = System.nanoTime();
        if (latencyRate > 0) {
            runLive(env, bootstrap, workload, latencyRate, report);
        } else {
            env.execute(contender);
        }
        long first = CountingSink.WRITERS.stream().mapToLong(w -> w.firstNanos).min().orElseThrow();
        long last = CountingSink.WRITERS.stream().mapToLong(w -> w.lastNanos).max().orElseThrow();
        report.put("contender", contender)
                .put("updates", CountingSink.WRITERS.stream().mapToLong(w -> w.updates).sum())
                .put("live", CountingSink.WRITERS.stream().mapToLong(CountingSink.Writer::live).sum())
                .put("elapsedMs", TimeUnit.NANOSECONDS.toMillis(last - start))
                .put("steadyMs", TimeUnit.NANOSECONDS.toMillis(last - first))
                .print();
    }

    /**
     * {@code base} with the local cluster's settings of every Flink contender: RocksDB with bloom
     * filters, 512 MB of managed memory, then the {@code --flink.*} options.
     */
    static Configuration clusterConfiguration(Configuration base, Map<String, String> options) {
        Configuration conf = new Configuration(base);
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        // Bloom filters, as Kafka Streams' RocksDB stores have by default: without them a lookup of a
        // key not yet in the state probes every level, which dominates a snapshot of millions of new keys.
        conf.setString(ROCKSDB_BLOOM_FILTER, "true");
        // RocksDB's block cache and write buffers come out of managed memory. A local cluster gets only
        // 128 MB by default (64 MB per slot here), which starves the contenders whose state lives in
        // RocksDB (Flink SQL measured 11 % slower with it); a cluster's default is several hundred MB.
        conf.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.ofMebiBytes(512));
        options.forEach((k, v) -> {
            if (k.startsWith(FLINK_OPTION_PREFIX)) {
                conf.setString(k.substring(FLINK_OPTION_PREFIX.length()), v);
            }
        });
        return conf;
    }

    /** The project's Kafka command source: the input of ours and of the ceiling. */
    static DataStream<UpsertCommand> commands(StreamExecutionEnvironment env, String bootstrap, String topic, Duration tick,
                                              boolean bounded) {
        KafkaCommandSource.Builder source = KafkaCommandSource.builder()
                .bootstrapServers(bootstrap)
                .topic(topic)
                .deadLetterTopic(topic + "-dead-letters")
                .groupId("bench-" + System.nanoTime())
                .tick(tick)
                // Every partition has data to its end, so none is idle; with idleness detection on, a
                // partition whose reader starts seconds late on a loaded machine is marked idle, its
                // commands come back behind the frontier and are retimed (SPEC section 2), and at a
                // 1 ms tick ours then emits fewer updates than the peers (measured under load 45: 12 of 34,243).
                .idleness(Duration.ZERO);
        if (bounded) {
            source.bounded();
        }
        return source.build().addTo(env);
    }

    /** The Flink SQL peer: upsert-kafka (bounded at the latest offsets) to a retracting changelog stream. */
    static DataStream<Row> sql(StreamExecutionEnvironment env, String bootstrap, String topic) {
        StreamTableEnvironment tables = StreamTableEnvironment.create(env);
        tables.executeSql("CREATE TABLE commands (k STRING, v STRING, PRIMARY KEY (k) NOT ENFORCED) WITH ("
                + "'connector' = 'upsert-kafka', 'topic' = '" + topic + "', "
                + "'properties.bootstrap.servers' = '" + bootstrap + "', "
                + "'properties.group.id' = 'bench-sql-" + System.nanoTime() + "', "
                + "'key.format' = 'raw', 'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY', "
                + "'scan.bounded.mode' = 'latest-offset')");
        DataStream<Row> changes = tables.toChangelogStream(tables.from("commands"));
        if (!env.getExecutionPlan().contains("ChangelogNormalize")) {
            throw new IllegalStateException("the planner did not add ChangelogNormalize:\n" + env.getExecutionPlan());
        }
        return changes;
    }

    private static int diffOfRow(Row row) {
        return switch (row.getKind()) {
            case INSERT, UPDATE_AFTER -> 1;
            case UPDATE_BEFORE, DELETE -> -1;
        };
    }

    /**
     * Runs the unbounded job while producing the workload at {@code rate}; stops once the sink has
     * output and then is quiet for 2 s (a job still starting when the producer is done, as on a
     * loaded machine, is waited for; the runner's step timeout bounds the wait). Fails if no insert
     * was measured.
     */
    private static void runLive(StreamExecutionEnvironment env, String bootstrap, Workload workload, int rate, Report report)
            throws Exception {
        Loader.createTopic(bootstrap, workload.topic(), workload.partitions());
        JobClient job = env.executeAsync("ours-latency");
        Thread watcher = new Thread(FlinkContender::measureLatencyFromFirstOutput, "first-output-watcher");
        watcher.setDaemon(true);
        watcher.start();
        Loader.produceLive(bootstrap, workload, rate);
        long expected = workload.expected().updates();
        long seen = -1;
        for (long now = CountingSink.WRITERS.stream().mapToLong(w -> w.updates).sum(); (now == 0 || now != seen) && now < expected;
             now = CountingSink.WRITERS.stream().mapToLong(w -> w.updates).sum()) {
            seen = now;
            Thread.sleep(2000);
        }
        job.cancel().get();
        job.getJobExecutionResult().handle((r, e) -> null).get();
        long[] latencies = CountingSink.WRITERS.stream()
                .flatMapToLong(w -> Arrays.stream(w.latencies, 0, w.latencyCount)).sorted().toArray();
        if (latencies.length == 0) {
            throw new IllegalStateException("no insert was sent after the job's first output: produce more commands (--latency-commands)");
        }
        report.put("records", workload.commands())
                .put("latencyRate", rate)
                .put("latencyInserts", latencies.length)
                .put("p50Ms", percentile(latencies, 0.50))
                .put("p90Ms", percentile(latencies, 0.90))
                .put("p99Ms", percentile(latencies, 0.99))
                .put("maxMs", latencies.length == 0 ? -1 : latencies[latencies.length - 1]);
    }

    /**
     * Measures latency only for commands sent after the job's first output: before it, the job was
     * still starting (and the latest command is always held until a newer time arrives).
     */
    private static void measureLatencyFromFirstOutput() {
        while (CountingSink.WRITERS.stream().mapToLong(w -> w.updates).sum() == 0) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
        CountingSink.measureLatencyFrom = System.currentTimeMillis();
    }

    private static long percentile(long[] sorted, double q) {
        return sorted.length == 0 ? -1 : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }
}
