package io.upsertfeedback.connectors.store;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

import java.time.Duration;

/** Configuration of the tiered store (read by {@link Stores#open}); the sink and the feedback source share it. */
public final class StoreOptions {
    private StoreOptions() {}

    public static final ConfigOption<String> BIGTABLE_PROJECT = ConfigOptions.key("store.bigtable.project")
            .stringType().noDefaultValue()
            .withDescription("Google Cloud project of the Bigtable instance (high-volume tier). Required unless store.bigtable.emulator-host is set.");

    public static final ConfigOption<String> BIGTABLE_INSTANCE = ConfigOptions.key("store.bigtable.instance")
            .stringType().noDefaultValue()
            .withDescription("Bigtable instance id. Required unless store.bigtable.emulator-host is set.");

    public static final ConfigOption<String> BIGTABLE_TABLE = ConfigOptions.key("store.bigtable.table")
            .stringType().defaultValue("upsert-feedback")
            .withDescription("Bigtable table holding one row per key, the frontier row and pending-cleanup notes (column family 's').");

    public static final ConfigOption<String> BIGTABLE_EMULATOR_HOST = ConfigOptions.key("store.bigtable.emulator-host")
            .stringType().noDefaultValue()
            .withDescription("host:port of a Bigtable emulator; when set, project and instance default to 'local'.");

    public static final ConfigOption<Boolean> BIGTABLE_CREATE_TABLE = ConfigOptions.key("store.bigtable.create-table")
            .booleanType().defaultValue(false)
            .withDescription("Create the table (family 's', one version) if it is missing, instead of failing at start.");

    public static final ConfigOption<String> LONG_TERM_PATH = ConfigOptions.key("store.long-term.path")
            .stringType().noDefaultValue()
            .withDescription("Long-term tier for large values: gs://bucket/prefix, or a local directory path (file:/... or plain).");

    public static final ConfigOption<String> GCS_HOST = ConfigOptions.key("store.long-term.gcs-host")
            .stringType().noDefaultValue()
            .withDescription("Override of the GCS JSON API endpoint (e.g. a test server), used without credentials.");

    public static final ConfigOption<MemorySize> INLINE_THRESHOLD = ConfigOptions.key("store.inline-threshold")
            .memoryType().defaultValue(MemorySize.parse("1mb"))
            .withDescription("Values whose encoded size is above this go to the long-term tier behind a redirect tombstone.");

    public static final ConfigOption<MemorySize> UPLOAD_CHUNK_SIZE = ConfigOptions.key("store.long-term.upload-chunk-size")
            .memoryType().defaultValue(MemorySize.parse("8mb"))
            .withDescription("Chunk size of streaming (resumable) uploads; for GCS a multiple of 256 KiB.");

    public static final ConfigOption<MemorySize> RANGE_READ_THRESHOLD = ConfigOptions.key("store.long-term.range-read.threshold")
            .memoryType().defaultValue(MemorySize.parse("8mb"))
            .withDescription("Objects above this size are read as concurrent byte ranges.");

    public static final ConfigOption<MemorySize> RANGE_READ_CHUNK = ConfigOptions.key("store.long-term.range-read.chunk-size")
            .memoryType().defaultValue(MemorySize.parse("4mb"))
            .withDescription("Size of one range of a ranged read.");

    public static final ConfigOption<Integer> RANGE_READ_CONCURRENCY = ConfigOptions.key("store.long-term.range-read.max-concurrent")
            .intType().defaultValue(4)
            .withDescription("Ranges of one read in flight at once.");

    public static final ConfigOption<Duration> RANGE_READ_TIMEOUT = ConfigOptions.key("store.long-term.range-read.timeout")
            .durationType().defaultValue(Duration.ofSeconds(30))
            .withDescription("Timeout of one range; a timed-out range cancels the read, which is then retried.");

    public static final ConfigOption<Integer> RETRY_MAX_ATTEMPTS = ConfigOptions.key("store.retry.max-attempts")
            .intType().defaultValue(6)
            .withDescription("Attempts of one storage call on transient errors before the operation (and the job) fails.");

    public static final ConfigOption<Duration> RETRY_INITIAL_BACKOFF = ConfigOptions.key("store.retry.initial-backoff")
            .durationType().defaultValue(Duration.ofMillis(50))
            .withDescription("Backoff cap of the first retry; it doubles per attempt, with full jitter.");

    public static final ConfigOption<Duration> RETRY_MAX_BACKOFF = ConfigOptions.key("store.retry.max-backoff")
            .durationType().defaultValue(Duration.ofSeconds(5))
            .withDescription("Largest backoff between two attempts.");

    public static final ConfigOption<Integer> CLEANUP_CAPACITY = ConfigOptions.key("store.cleanup.capacity")
            .intType().defaultValue(1024)
            .withDescription("Cleanup notes queued at most; writes wait when cleanup falls this far behind.");
}
