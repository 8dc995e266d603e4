package io.upsertfeedback.connectors.embedded;

import com.google.cloud.bigtable.emulator.core.EmulatorController;
import com.google.cloud.bigtable.hbase.BigtableConfiguration;
import com.google.cloud.bigtable.hbase.BigtableOptionsFactory;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.client.Connection;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An in-process-managed Bigtable emulator (the {@code cbtemulator} binary bundled in
 * {@code google-cloud-bigtable-emulator-core}, a child process) for local mode and tests. In-memory
 * only: the data lives as long as the emulator's process. {@link #storeConfig} gives the Flink
 * configuration that points {@code Stores.open}, the sink and the feedback source at it.
 *
 * <p>A JVM killed with SIGKILL leaves its emulator running, with its data: {@link #reattach} takes
 * it over (local mode's {@code --resume}), and {@link #close()} then stops it.
 */
public final class EmbeddedBigtable implements AutoCloseable {
    public static final String PROJECT = "local";
    public static final String INSTANCE = "local";

    private final EmulatorController emulator;
    private final ProcessHandle process;
    private final int port;

    private EmbeddedBigtable(EmulatorController emulator, ProcessHandle process, int port) {
        this.emulator = emulator;
        this.process = process;
        this.port = port;
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
        int port = emulator.getPort();
        ProcessHandle process = ProcessHandle.current().children()
                .filter(p -> p.info().commandLine().map(c -> c.contains("cbtemulator") && c.contains(String.valueOf(port))).orElse(false))
                .findFirst().orElse(null);
        return new EmbeddedBigtable(emulator, process, port);
    }

    /**
     * The emulator left running by an earlier process (process id {@code pid}, on {@code port}),
     * if it still runs and answers; its data is the earlier process's store.
     */
    public static Optional<EmbeddedBigtable> reattach(long pid, int port) {
        Optional<ProcessHandle> process = ProcessHandle.of(pid)
                .filter(p -> p.isAlive() && p.info().commandLine().map(c -> c.contains("cbtemulator")).orElse(false));
        if (process.isEmpty()) {
            return Optional.empty();
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("localhost", port), 2_000);
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.of(new EmbeddedBigtable(null, process.get(), port));
    }

    /** The emulator's process id, or -1 when it cannot be told. */
    public long pid() {
        return process == null ? -1 : process.pid();
    }

    /** Whether the emulator's process still runs ({@code true} when it cannot be told: {@link #pid} is -1). */
    public boolean isAlive() {
        return process == null || process.isAlive();
    }

    /** The emulator's port on localhost. */
    public int port() {
        return port;
    }

    /** {@code localhost:<port>}: the value of {@code google.bigtable.emulator.endpoint.host}. */
    public String endpoint() {
        return "localhost:" + port;
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
        if (emulator != null) {
            emulator.stop();
        } else {
            process.destroy();
            process.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
    }
}
