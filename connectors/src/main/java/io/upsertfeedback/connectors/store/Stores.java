package io.upsertfeedback.connectors.store;

import com.google.cloud.NoCredentials;
import com.google.cloud.bigtable.hbase.BigtableConfiguration;
import com.google.cloud.bigtable.hbase.BigtableOptionsFactory;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import io.upsertfeedback.connectors.store.bigtable.BigtableFrontier;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.connectors.store.gcs.GcsLongTermTier;
import io.upsertfeedback.connectors.store.localdir.LocalDirectoryLongTermTier;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.client.Connection;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;

/**
 * The one way to open a store from Flink configuration ({@link StoreOptions}). The high-volume tier
 * and the frontier live in Bigtable ({@code store.bigtable.*}); the long-term tier is chosen by the
 * scheme of {@code store.long-term.path}: {@code gs://bucket/prefix} for Google Cloud Storage, any
 * other path a local directory. Both open methods validate the configuration and check the table
 * (and the long-term location) up front, failing with an {@link IllegalArgumentException} that names
 * the option to fix, so a misconfigured job stops at start instead of at its first write.
 */
public final class Stores {
    private Stores() {}

    /** Opens the whole store; {@code owner} names this writer in cleanup notes. */
    public static StoreHandle open(ReadableConfig conf, String owner) throws IOException {
        return open(conf, owner, TierWrapper.NONE);
    }

    /** As {@link #open(ReadableConfig, String)}, with both tiers passed through {@code tiers}. */
    public static StoreHandle open(ReadableConfig conf, String owner, TierWrapper tiers) throws IOException {
        String longTermPath = conf.getOptional(StoreOptions.LONG_TERM_PATH).orElseThrow(() -> new IllegalArgumentException(
                "store.long-term.path is not set: set it to gs://bucket/prefix or to a local directory for large values"));
        Connection connection = bigtableConnection(conf);
        try {
            String table = conf.get(StoreOptions.BIGTABLE_TABLE);
            LongTermTier longTerm = tiers.longTerm(longTermFromConfig(conf, longTermPath));
            HighVolumeTier highVolume = tiers.highVolume(new BigtableHighVolumeTier(connection, table, true));
            String name = bigtableName(conf, table) + " + " + longTerm.describe();
            Retrier retrier = new Retrier(conf.get(StoreOptions.RETRY_MAX_ATTEMPTS), conf.get(StoreOptions.RETRY_INITIAL_BACKOFF),
                    conf.get(StoreOptions.RETRY_MAX_BACKOFF));
            TieredStore store = new TieredStore(highVolume, longTerm, conf.get(StoreOptions.INLINE_THRESHOLD).getBytes(),
                    retrier, conf.get(StoreOptions.CLEANUP_CAPACITY), owner, null);
            return new StoreHandle(store, new BigtableFrontier(connection, table, name, false), name);
        } catch (IOException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    /**
     * Opens only the persist frontier (to read {@code P} and the positions when a job is built, or to
     * watch progress): no long-term tier, no cleanup. Closing it closes its connection.
     */
    public static PersistFrontier openFrontier(ReadableConfig conf) throws IOException {
        Connection connection = bigtableConnection(conf);
        try {
            String table = conf.get(StoreOptions.BIGTABLE_TABLE);
            return new BigtableFrontier(connection, table, bigtableName(conf, table), true);
        } catch (IOException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    // --- private helpers ---

    private static String bigtableName(ReadableConfig conf, String table) {
        return "bigtable " + project(conf) + "/" + instance(conf) + "/" + table;
    }

    private static String project(ReadableConfig conf) {
        return conf.getOptional(StoreOptions.BIGTABLE_PROJECT).orElse(conf.getOptional(StoreOptions.BIGTABLE_EMULATOR_HOST).isPresent() ? "local" : null);
    }

    private static String instance(ReadableConfig conf) {
        return conf.getOptional(StoreOptions.BIGTABLE_INSTANCE).orElse(conf.getOptional(StoreOptions.BIGTABLE_EMULATOR_HOST).isPresent() ? "local" : null);
    }

    /** A connection to the configured Bigtable instance whose table exists (or was created). */
    private static Connection bigtableConnection(ReadableConfig conf) throws IOException {
        String emulator = conf.getOptional(StoreOptions.BIGTABLE_EMULATOR_HOST).orElse(null);
        String project = project(conf);
        String instance = instance(conf);
        if (project == null || instance == null) {
            throw new IllegalArgumentException("store." + (project == null ? "bigtable.project" : "bigtable.instance")
                    + " is not set: set store.bigtable.project and store.bigtable.instance to your Bigtable instance,"
                    + " or store.bigtable.emulator-host=host:port to use an emulator");
        }
        String table = conf.get(StoreOptions.BIGTABLE_TABLE);
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
            return connection;
        } catch (IOException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private static LongTermTier longTermFromConfig(ReadableConfig conf, String path) throws IOException {
        RangeReader.Settings ranges = new RangeReader.Settings(conf.get(StoreOptions.RANGE_READ_THRESHOLD).getBytes(),
                (int) conf.get(StoreOptions.RANGE_READ_CHUNK).getBytes(), conf.get(StoreOptions.RANGE_READ_CONCURRENCY),
                conf.get(StoreOptions.RANGE_READ_TIMEOUT));
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
            return new GcsLongTermTier(storage, bucketAndPrefix[0], bucketAndPrefix[1], ranges,
                    (int) conf.get(StoreOptions.UPLOAD_CHUNK_SIZE).getBytes());
        }
        Path dir = path.startsWith("file:") ? Path.of(URI.create(path)) : Path.of(path);
        return new LocalDirectoryLongTermTier(dir, ranges);
    }
}
