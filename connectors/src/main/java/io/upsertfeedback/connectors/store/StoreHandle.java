package io.upsertfeedback.connectors.store;

import com.google.cloud.NoCredentials;
import com.google.cloud.bigtable.hbase.BigtableConfiguration;
import com.google.cloud.bigtable.hbase.BigtableOptionsFactory;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.client.Connection;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;

/**
 * An opened store: the {@link TieredStore} and its {@link BigtableFrontier}, built from Flink
 * configuration ({@link StoreOptions}). {@link #open} validates the configuration and checks the
 * table and the long-term location up front, failing with a message that names the option to fix,
 * so a misconfigured job stops at start instead of at its first write.
 */
public final class StoreHandle implements AutoCloseable {
    private final TieredStore store;
    private final BigtableFrontier frontier;
    private final String name;

    private StoreHandle(TieredStore store, BigtableFrontier frontier, String name) {
        this.store = store;
        this.frontier = frontier;
        this.name = name;
    }

    /** A handle over an already built store (tests, or tiers wired by hand); closing it closes both. */
    public static StoreHandle of(TieredStore store, BigtableFrontier frontier, String name) {
        return new StoreHandle(store, frontier, name);
    }

    public TieredStore store() {
        return store;
    }

    public BigtableFrontier frontier() {
        return frontier;
    }

    /** The store's name in messages: table and long-term location. */
    public String name() {
        return name;
    }

    /**
     * Opens the store described by {@code conf}; {@code owner} names this writer in cleanup notes.
     *
     * @throws IllegalArgumentException when an option is missing or invalid (the message names it)
     */
    public static StoreHandle open(ReadableConfig conf, String owner) throws IOException {
        return open(conf, owner, TierWrapper.NONE);
    }

    /** As {@link #open(ReadableConfig, String)}, with both tiers passed through {@code tiers}. */
    public static StoreHandle open(ReadableConfig conf, String owner, TierWrapper tiers) throws IOException {
        String emulator = conf.getOptional(StoreOptions.BIGTABLE_EMULATOR_HOST).orElse(null);
        String project = conf.getOptional(StoreOptions.BIGTABLE_PROJECT).orElse(emulator != null ? "local" : null);
        String instance = conf.getOptional(StoreOptions.BIGTABLE_INSTANCE).orElse(emulator != null ? "local" : null);
        if (project == null || instance == null) {
            throw new IllegalArgumentException("store." + (project == null ? "bigtable.project" : "bigtable.instance")
                    + " is not set: set store.bigtable.project and store.bigtable.instance to your Bigtable instance,"
                    + " or store.bigtable.emulator-host=host:port to use an emulator");
        }
        String longTermPath = conf.getOptional(StoreOptions.LONG_TERM_PATH).orElseThrow(() -> new IllegalArgumentException(
                "store.long-term.path is not set: set it to gs://bucket/prefix or to a local directory for large values"));
        String table = conf.get(StoreOptions.BIGTABLE_TABLE);
        Retrier retrier = new Retrier(conf.get(StoreOptions.RETRY_MAX_ATTEMPTS), conf.get(StoreOptions.RETRY_INITIAL_BACKOFF),
                conf.get(StoreOptions.RETRY_MAX_BACKOFF));
        RangeReader.Settings ranges = new RangeReader.Settings(conf.get(StoreOptions.RANGE_READ_THRESHOLD).getBytes(),
                (int) conf.get(StoreOptions.RANGE_READ_CHUNK).getBytes(), conf.get(StoreOptions.RANGE_READ_CONCURRENCY),
                conf.get(StoreOptions.RANGE_READ_TIMEOUT));

        Configuration hbase = BigtableConfiguration.configure(project, instance);
        if (emulator != null) {
            hbase.set(BigtableOptionsFactory.BIGTABLE_EMULATOR_HOST_KEY, emulator);
        }
        Connection connection = BigtableConfiguration.connect(hbase);
        try {
            if (conf.get(StoreOptions.BIGTABLE_CREATE_TABLE)) {
                BigtableHighVolumeTier.createTableIfMissing(connection, table);
            } else if (!BigtableHighVolumeTier.tableExists(connection, table)) {
                throw new IllegalArgumentException("store.bigtable.table: table '" + table + "' does not exist in "
                        + project + "/" + instance + ": create it with column family 's', or set store.bigtable.create-table=true");
            }
            LongTermTier longTerm = tiers.longTerm(openLongTerm(conf, longTermPath, ranges));
            HighVolumeTier highVolume = tiers.highVolume(new BigtableHighVolumeTier(connection, table, true));
            String name = "bigtable " + project + "/" + instance + "/" + table + " + " + longTerm.describe();
            TieredStore store = new TieredStore(highVolume, longTerm, conf.get(StoreOptions.INLINE_THRESHOLD).getBytes(),
                    retrier, conf.get(StoreOptions.CLEANUP_CAPACITY), owner, null);
            return new StoreHandle(store, new BigtableFrontier(connection, table, name), name);
        } catch (IOException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private static LongTermTier openLongTerm(ReadableConfig conf, String path, RangeReader.Settings ranges) throws IOException {
        int uploadChunk = (int) conf.get(StoreOptions.UPLOAD_CHUNK_SIZE).getBytes();
        if (path.startsWith("gs://")) {
            String[] bucketAndPrefix;
            try {
                bucketAndPrefix = GcsLongTermTier.parseUri(path);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("store.long-term.path: " + e.getMessage() + " (expected gs://bucket/prefix)", e);
            }
            StorageOptions.Builder options = StorageOptions.newBuilder();
            conf.getOptional(StoreOptions.GCS_HOST).ifPresent(host -> options.setHost(host).setCredentials(NoCredentials.getInstance()));
            Storage storage = options.build().getService();
            if (storage.get(bucketAndPrefix[0]) == null) {
                throw new IllegalArgumentException("store.long-term.path: bucket " + bucketAndPrefix[0]
                        + " does not exist or is not visible with the current credentials");
            }
            return new GcsLongTermTier(storage, bucketAndPrefix[0], bucketAndPrefix[1], ranges, uploadChunk);
        }
        Path dir = path.startsWith("file:") ? Path.of(URI.create(path)) : Path.of(path);
        return new LocalDirectoryLongTermTier(dir, ranges);
    }

    @Override
    public void close() throws Exception {
        try {
            frontier.close();
        } finally {
            store.close();
        }
    }
}
