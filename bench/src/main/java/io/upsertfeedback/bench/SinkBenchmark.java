package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.Report;
import io.upsertfeedback.bench.kafka.Workload;
import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Table;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The tiered store's write paths against the Bigtable emulator (long-term objects in a local
 * directory), in rows per second, side by side in one run:
 * <ul>
 *   <li>{@code conditionalWindowed}: {@link TieredStore#put} from 32 threads at once, each a row
 *       read then a compare-and-write: the conditional path, which every inline write took before
 *       the plain path existed (and large values still take);</li>
 *   <li>{@code plainBatched}: {@link TieredStore#writePlain} in batches of 500 from 4 threads at
 *       once, the sink's path for inline values over inline values: one round trip per batch;</li>
 *   <li>{@code emulatorCeiling}: raw HBase {@code Table.put(List)} of 1,000 puts, one batch at a time
 *       per thread from 4 threads: the emulator's batched-put ceiling;</li>
 *   <li>{@code sinkJob}: the {@link TieredStoreSink} in a Flink job at parallelism 2, inserts of
 *       distinct keys, over the job's net run time as Flink reports it (task deployment included,
 *       the local cluster's start-up not);</li>
 *   <li>{@code conditionalLarge}: values above the inline threshold, one at a time (cleanup
 *       notes, long-term upload, compare-and-write).</li>
 * </ul>
 * plus the ratios {@code plainToCeiling}, {@code plainToConditional} and {@code sinkJobToCeiling}.
 * Every write is a distinct key with a small value.
 *
 * <p>Options: {@code --rows=100000 --conditional-rows=5000 --sink-updates=100000 --large-updates=300
 * --value-size=100 --large-value-size=8192}.
 */
public final class SinkBenchmark {
    private static final int CONDITIONAL_WINDOW = 32;
    private static final int BATCH_WINDOW = 4;
    private static final int PLAIN_BATCH = 500;
    private static final int CEILING_BATCH = 1000;

    public static void main(String[] args) throws Exception {
        Report report = Report.sampling();
        Map<String, String> options = Workload.parseArgs(args);
        int rows = Integer.parseInt(options.getOrDefault("rows", "100000"));
        int conditionalRows = Integer.parseInt(options.getOrDefault("conditional-rows", "5000"));
        int sinkUpdates = Integer.parseInt(options.getOrDefault("sink-updates", "100000"));
        int largeUpdates = Integer.parseInt(options.getOrDefault("large-updates", "300"));
        int valueSize = Integer.parseInt(options.getOrDefault("value-size", "100"));
        int largeValueSize = Integer.parseInt(options.getOrDefault("large-value-size", "8192"));
        Path longTerm = Files.createTempDirectory("bench-sink");
        try (EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            ceiling(bigtable, "warm-up", rows / 5, valueSize); // the client and the emulator warm up first
            double ceiling = ceiling(bigtable, "ceiling", rows, valueSize);
            double conditional = conditional(bigtable.storeConfig("conditional", longTerm), conditionalRows, valueSize);
            double plain = plain(bigtable.storeConfig("plain", longTerm), rows, valueSize);
            // Created up front: two sink subtasks creating it at once race (TableExistsException).
            bigtable.createTable("sink");
            Configuration sinkConfig = bigtable.storeConfig("sink", longTerm);
            sinkConfig.set(StoreOptions.BIGTABLE_CREATE_TABLE, false);
            double sink = sinkJob(sinkConfig, sinkUpdates, valueSize);
            Configuration large = bigtable.storeConfig("large", longTerm);
            large.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse("1kb"));
            double conditionalLarge = storePuts(large, "l", largeUpdates, largeValueSize);

            report.put("conditionalWindowedRowsPerSecond", Math.round(conditional));
            report.put("plainBatchedRowsPerSecond", Math.round(plain));
            report.put("emulatorCeilingRowsPerSecond", Math.round(ceiling));
            report.put("sinkJobRowsPerSecond", Math.round(sink));
            report.put("conditionalLargeOpsPerSecond", Math.round(conditionalLarge));
            report.put("plainToCeiling", String.format("%.2f", plain / ceiling));
            report.put("plainToConditional", String.format("%.1f", plain / conditional));
            report.put("sinkJobToCeiling", String.format("%.2f", sink / ceiling));
        }
        report.print();
        System.exit(0);
    }

    private static UpsertValue value(int size) {
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) 'v');
        return UpsertValue.of(bytes);
    }

    private static byte[] key(String prefix, long i) {
        return (prefix + i).getBytes(StandardCharsets.UTF_8);
    }

    /** Runs {@code tasks} on {@code threads} threads; returns the wall time in nanoseconds. */
    private static long timed(int threads, List<Callable<Void>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long start = System.nanoTime();
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
            return System.nanoTime() - start;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Writes one batch of rows (a {@code Table.put} or a {@code TieredStore.writePlain}). */
    private interface BatchWrite<T> {
        void write(List<T> batch) throws Exception;
    }

    /** Rows {@code 0..count-1}, made by {@code row}, as tasks that each write {@code size} of them with {@code write}. */
    private static <T> List<Callable<Void>> inBatches(int count, int size, java.util.function.IntFunction<T> row,
                                                      BatchWrite<T> write) {
        List<Callable<Void>> batches = new ArrayList<>();
        for (int first = 0; first < count; first += size) {
            int from = first;
            batches.add(() -> {
                List<T> batch = new ArrayList<>(size);
                for (int i = from; i < Math.min(count, from + size); i++) {
                    batch.add(row.apply(i));
                }
                write.write(batch);
                return null;
            });
        }
        return batches;
    }

    /** Raw batched puts of 1,000 rows of the store's row shape, {@link #BATCH_WINDOW} batches in flight. */
    private static double ceiling(EmbeddedBigtable bigtable, String tableName, int count, int valueSize) throws Exception {
        bigtable.createTable(tableName);
        byte[] family = "s".getBytes(StandardCharsets.UTF_8);
        byte[] value = value(valueSize).bytes();
        try (Connection connection = bigtable.connect(); Table table = connection.getTable(TableName.valueOf(tableName))) {
            List<Callable<Void>> batches = inBatches(count, CEILING_BATCH,
                    i -> new Put(key("c", i)).addColumn(family, "m".getBytes(StandardCharsets.UTF_8), i, value)
                            .addColumn(family, "d".getBytes(StandardCharsets.UTF_8), i, value),
                    table::put);
            return count * 1e9 / timed(BATCH_WINDOW, batches);
        }
    }

    /** {@link TieredStore#writePlain} in batches of {@link #PLAIN_BATCH}, {@link #BATCH_WINDOW} in flight. */
    private static double plain(Configuration config, int count, int valueSize) throws Exception {
        UpsertValue value = value(valueSize);
        try (StoreHandle handle = Stores.open(config, "bench-plain")) {
            TieredStore store = handle.store();
            List<Callable<Void>> batches = inBatches(count, PLAIN_BATCH,
                    i -> store.prepare(new TieredStore.Write(key("p", i), value, i, 0, i)), store::writePlain);
            return count * 1e9 / timed(BATCH_WINDOW, batches);
        }
    }

    /** {@link TieredStore#put} (read, then compare-and-write), {@link #CONDITIONAL_WINDOW} in flight. */
    private static double conditional(Configuration config, int count, int valueSize) throws Exception {
        UpsertValue value = value(valueSize);
        try (StoreHandle handle = Stores.open(config, "bench-conditional")) {
            TieredStore store = handle.store();
            List<Callable<Void>> puts = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long n = i;
                puts.add(() -> {
                    store.put(key("k", n), value, n, 0, n);
                    return null;
                });
            }
            return count * 1e9 / timed(CONDITIONAL_WINDOW, puts);
        }
    }
    /** {@code count} sequential puts of distinct keys; returns puts per second. */
    private static double storePuts(Configuration config, String prefix, int count, int valueSize) throws Exception {
        UpsertValue value = value(valueSize);
        try (StoreHandle handle = Stores.open(config, "bench-" + prefix)) {
            TieredStore store = handle.store();
            for (int i = 0; i < count / 10; i++) {
                store.put(key("warm-" + prefix, i), value, i, 0, i);
            }
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                store.put(key(prefix, i), value, i, 0, i);
            }
            return count * 1e9 / (System.nanoTime() - start);
        }
    }

    /** A Flink job writing {@code count} inserts through the tiered sink; returns updates per second of the job's net run time. */
    private static double sinkJob(Configuration config, int count, int valueSize) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2);
        env.fromSequence(0, count - 1)
                .map(i -> Update.insert(key("s", i), value(valueSize), i, 0, i), UpdateSerializer.TYPE_INFO)
                .sinkTo(TieredStoreSink.builder().setStoreConfig(config).build());
        return count * 1e9 / env.execute("sink-benchmark").getNetRuntime(TimeUnit.NANOSECONDS);
    }
}
