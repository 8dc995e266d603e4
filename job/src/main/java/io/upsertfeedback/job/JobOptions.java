package io.upsertfeedback.job;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

import java.time.Duration;

/**
 * Options of the job's subcommands ({@code local}, {@code produce}); the pipeline's own options
 * live with their parts ({@code kafka.*}/{@code ingest.*} in the connectors, {@code upsert.*} in the
 * operator, the store's in the store). All are read from {@code flink-conf/config.yaml} and can be
 * overridden with {@code -Dkey=value} on the command line.
 */
public final class JobOptions {
    public static final ConfigOption<String> LOCAL_DATA_DIR = ConfigOptions.key("local.data-dir")
            .stringType().defaultValue("local-data")
            .withDescription("`local`: directory for the long-term tier, checkpoints and the broker's logs (wiped at start).");

    public static final ConfigOption<Integer> LOCAL_PARTITIONS = ConfigOptions.key("local.partitions")
            .intType().defaultValue(4)
            .withDescription("`local`: partitions of the upsert topic the embedded broker creates.");

    public static final ConfigOption<Duration> PROGRESS_INTERVAL = ConfigOptions.key("local.progress-interval")
            .durationType().defaultValue(Duration.ofSeconds(5))
            .withDescription("`local`: how often the one-line progress report is printed.");

    public static final ConfigOption<Integer> PRODUCE_KEYS = ConfigOptions.key("produce.keys")
            .intType().defaultValue(1000)
            .withDescription("`produce` and local demo traffic: number of distinct keys (k0 .. k<n-1>).");

    public static final ConfigOption<Integer> PRODUCE_RATE = ConfigOptions.key("produce.rate")
            .intType().defaultValue(200)
            .withDescription("`produce` and local demo traffic: records per second; 0 sends as fast as the broker takes them.");

    public static final ConfigOption<Long> PRODUCE_COUNT = ConfigOptions.key("produce.count")
            .longType().defaultValue(0L)
            .withDescription("`produce` and local demo traffic: records to send in total; 0 sends until stopped (Ctrl-C).");

    public static final ConfigOption<MemorySize> PRODUCE_VALUE_SIZE = ConfigOptions.key("produce.value-size")
            .memoryType().defaultValue(MemorySize.parse("200b"))
            .withDescription("Mean size of small values; each is uniform between half and one and a half times this.");

    public static final ConfigOption<MemorySize> PRODUCE_LARGE_VALUE_SIZE = ConfigOptions.key("produce.large-value-size")
            .memoryType().defaultValue(MemorySize.parse("2mb"))
            .withDescription("Size of large values: above the store's tiered threshold (1 MiB by default, compressed size), "
                    + "so they go to the long-term tier.");

    public static final ConfigOption<Double> PRODUCE_LARGE_FRACTION = ConfigOptions.key("produce.large-fraction")
            .doubleType().defaultValue(0.01)
            .withDescription("Fraction of values that are large.");

    public static final ConfigOption<Double> PRODUCE_DELETE_FRACTION = ConfigOptions.key("produce.delete-fraction")
            .doubleType().defaultValue(0.1)
            .withDescription("Fraction of records that are deletes (null values).");

    public static final ConfigOption<Long> PRODUCE_SEED = ConfigOptions.key("produce.seed")
            .longType().defaultValue(42L)
            .withDescription("Seed of the generator: the same seed sends the same records.");

    private JobOptions() {
    }
}
