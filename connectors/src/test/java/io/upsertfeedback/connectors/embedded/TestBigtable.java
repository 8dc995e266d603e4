package io.upsertfeedback.connectors.embedded;

import org.apache.hadoop.hbase.client.Connection;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

/** One Bigtable emulator and connection per test JVM, shared by all test classes; tests use fresh tables. */
public final class TestBigtable {
    private static EmbeddedBigtable emulator;
    private static Connection connection;
    private static final AtomicInteger TABLES = new AtomicInteger();

    private TestBigtable() {}

    public static synchronized EmbeddedBigtable emulator() {
        if (emulator == null) {
            try {
                emulator = EmbeddedBigtable.start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            connection = emulator.connect();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    connection.close();
                } catch (IOException ignored) {
                    // the emulator goes away with the JVM anyway
                }
                emulator.close();
            }));
        }
        return emulator;
    }

    public static synchronized Connection connection() {
        emulator();
        return connection;
    }

    /** Creates and returns a table name not used before in this JVM. */
    public static String freshTable(String prefix) throws IOException {
        String table = prefix + "-" + TABLES.incrementAndGet();
        emulator().createTable(table);
        return table;
    }
}
