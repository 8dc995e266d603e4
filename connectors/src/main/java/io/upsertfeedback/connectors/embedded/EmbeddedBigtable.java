package io.upsertfeedback.connectors.embedded;

import com.google.cloud.bigtable.emulator.core.EmulatorController;
import com.google.cloud.bigtable.hbase.BigtableConfiguration;
import com.google.cloud.bigtable.hbase.BigtableOptionsFactory;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.client.Connection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeoutException;

/**
 * An in-process-managed Bigtable emulator (the {@code cbtemulator} binary bundled in
 * {@code google-cloud-bigtable-emulator-core}) for local mode and tests. In-memory only: the data
 * lives as long as this object. {@link #storeConfig} gives the Flink configuration that points a
 * {@code Stores.open}, the sink and the feedback source at it.
 */
public final class EmbeddedBigtable implements AutoCloseable {
    public static final String PROJECT = "local";
    public static final String INSTANCE = "local";

    private final EmulatorController emulator;

    private EmbeddedBigtable(EmulatorController emulator) {
        this.emulator = emulator;
    }

    public static EmbeddedBigtable start() throws IOException {
        EmulatorController emulator = EmulatorController.createBundled();
        try {
            emulator.start();
        } catch (TimeoutException e) {
            throw new IOException("the Bigtable emulator did not start in time", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting the Bigtable emulator", e);
        }
        return new EmbeddedBigtable(emulator);
    }

    /** {@code localhost:<port>}: the value of {@code google.bigtable.emulator.endpoint.host}. */
    public String endpoint() {
        return "localhost:" + emulator.getPort();
    }

    /** HBase client configuration for the emulator. */
    public Configuration hbaseConfiguration() {
        Configuration conf = BigtableConfiguration.configure(PROJECT, INSTANCE);
        conf.set(BigtableOptionsFactory.BIGTABLE_EMULATOR_HOST_KEY, endpoint());
        return conf;
    }

    /** A new HBase connection to the emulator; the caller closes it. */
    public Connection connect() {
        return BigtableConfiguration.connect(hbaseConfiguration());
    }

    /** Creates {@code table} with the store's column family unless it exists. */
    public void createTable(String table) throws IOException {
        try (Connection c = connect()) {
            BigtableHighVolumeTier.createTableIfMissing(c, table);
        }
    }

    /** Flink configuration of a store in this emulator's {@code table}, with long-term objects in {@code longTermDir}. */
    public org.apache.flink.configuration.Configuration storeConfig(String table, Path longTermDir) {
        org.apache.flink.configuration.Configuration conf = new org.apache.flink.configuration.Configuration();
        conf.set(StoreOptions.BIGTABLE_EMULATOR_HOST, endpoint());
        conf.set(StoreOptions.BIGTABLE_TABLE, table);
        conf.set(StoreOptions.BIGTABLE_CREATE_TABLE, true);
        conf.set(StoreOptions.LONG_TERM_PATH, longTermDir.toAbsolutePath().toString());
        return conf;
    }

    @Override
    public void close() {
        emulator.stop();
    }
}
