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

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The tiered sink against the Bigtable emulator (long-term objects in a local directory), in
 * operations per second:
 * <ul>
 *   <li>{@code onePerUpdate}: {@link TieredStore#put} called once per update, one at a time (the
 *       store's write: a row read, then a conditional put on the tombstone target);</li>
 *   <li>{@code sinkWindowed}: the {@link TieredStoreSink} in a Flink job at parallelism 2 with its
 *       default window of in-flight writes, consolidating {@code -old/+new} pairs into one put;
 *       measured over the whole job, start-up included;</li>
 *   <li>{@code conditionalLarge}: values above the inline threshold, one at a time: the tombstone
 *       path (cleanup notes, long-term upload, compare-and-write on the row).</li>
 * </ul>
 * Every update writes a distinct key. The store writes every state change with a conditional
 * mutation (the tombstone guard), so there is no plain batched-mutation path to measure.
 *
 * <p>Options: {@code --updates=2000 --sink-updates=10000 --large-updates=300 --value-size=100 --large-value-size=8192}.
 */
public final class SinkBenchmark {
    public static void main(String[] args) throws Exception {
        Report report = Report.sampling();
        Map<String, String> options = Workload.parseArgs(args);
        int updates = Integer.parseInt(options.getOrDefault("updates", "2000"));
        int sinkUpdates = Integer.parseInt(options.getOrDefault("sink-updates", "10000"));
        int largeUpdates = Integer.parseInt(options.getOrDefault("large-updates", "300"));
        int valueSize = Integer.parseInt(options.getOrDefault("value-size", "100"));
        int largeValueSize = Integer.parseInt(options.getOrDefault("large-value-size", "8192"));
        Path longTerm = Files.createTempDirectory("bench-sink");
        try (EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            Configuration small = bigtable.storeConfig("one-per-update", longTerm);
            report.put("onePerUpdateOpsPerSecond", Math.round(storePuts(small, "p", updates, valueSize)));

            // Created up front: two sink subtasks creating it at once race (TableExistsException).
            bigtable.createTable("windowed");
            Configuration sinkConfig = bigtable.storeConfig("windowed", longTerm);
            sinkConfig.set(StoreOptions.BIGTABLE_CREATE_TABLE, false);
            report.put("sinkWindowedOpsPerSecond", Math.round(sinkJob(sinkConfig, sinkUpdates, valueSize)));

            Configuration large = bigtable.storeConfig("large", longTerm);
            large.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse("1kb"));
            report.put("conditionalLargeOpsPerSecond", Math.round(storePuts(large, "l", largeUpdates, largeValueSize)));
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

    /** A Flink job writing {@code count} inserts through the tiered sink; returns updates per second of the whole job. */
    private static double sinkJob(Configuration config, int count, int valueSize) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2);
        env.fromSequence(0, count - 1)
                .map(i -> Update.insert(key("s", i), value(valueSize), i, 0, i), UpdateSerializer.TYPE_INFO)
                .sinkTo(TieredStoreSink.builder().setStoreConfig(config).build());
        long start = System.nanoTime();
        env.execute("sink-benchmark");
        return count * 1e9 / (System.nanoTime() - start);
    }
}
