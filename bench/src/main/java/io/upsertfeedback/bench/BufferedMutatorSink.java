package io.upsertfeedback.bench;

import com.google.cloud.bigtable.hbase.BigtableConfiguration;
import com.google.cloud.bigtable.hbase.BigtableOptionsFactory;
import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.types.Row;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.BufferedMutator;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Delete;
import org.apache.hadoop.hbase.client.Mutation;
import org.apache.hadoop.hbase.client.Put;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The Bigtable writer a user would hand-roll behind Flink SQL: a Sink V2 writer over the HBase
 * client's {@link BufferedMutator} (batched plain mutations), writing a changelog of
 * {@code (k STRING, v STRING)} rows as the latest value per key: {@code INSERT} and
 * {@code UPDATE_AFTER} put {@code v} into column {@link #FAMILY}:{@link #QUALIFIER} of row
 * {@code k}, {@code DELETE} deletes the row, {@code UPDATE_BEFORE} is skipped. No tombstones, no
 * long-term tier, no persist frontier, no feedback.
 *
 * <p>The writer keeps the latest mutation per key and sends a batch of at most {@link #BATCH_ROWS}
 * rows (the default {@code sink.buffer-flush.max-rows} of Flink's HBase connector) once it is full,
 * at every checkpoint and at the end of the input (at least once), waiting for each batch to
 * complete. Handing every change to the mutator as it comes is not correct on Bigtable: the
 * mutator sends batches concurrently and a batch's entries may be applied in any order, so a put
 * and a later delete of one key can land reversed (measured: the store kept a deleted key).
 *
 * <p>Targets the Bigtable emulator at {@code emulatorEndpoint} ({@code host:port}); the table must
 * exist. The writers register in a static queue (the contenders run on a local cluster), so the
 * contender can sum the rows they wrote.
 */
final class BufferedMutatorSink implements Sink<Row> {
    static final byte[] FAMILY = "s".getBytes(StandardCharsets.UTF_8);
    static final byte[] QUALIFIER = "v".getBytes(StandardCharsets.UTF_8);
    static final Queue<Writer> WRITERS = new ConcurrentLinkedQueue<>();
    static final int BATCH_ROWS = 1000;

    private final String emulatorEndpoint;
    private final String table;

    BufferedMutatorSink(String emulatorEndpoint, String table) {
        this.emulatorEndpoint = emulatorEndpoint;
        this.table = table;
    }

    @Override
    public SinkWriter<Row> createWriter(WriterInitContext context) throws IOException {
        org.apache.hadoop.conf.Configuration hbase = BigtableConfiguration.configure(EmbeddedBigtable.PROJECT, EmbeddedBigtable.INSTANCE);
        hbase.set(BigtableOptionsFactory.BIGTABLE_EMULATOR_HOST_KEY, emulatorEndpoint);
        Connection connection = BigtableConfiguration.connect(hbase);
        Writer writer = new Writer(connection, connection.getBufferedMutator(TableName.valueOf(table)));
        WRITERS.add(writer);
        return writer;
    }

    static final class Writer implements SinkWriter<Row> {
        private final Connection connection;
        private final BufferedMutator mutator;
        private final Map<ByteBuffer, Mutation> batch = new HashMap<>();
        volatile long rowsWritten;

        Writer(Connection connection, BufferedMutator mutator) {
            this.connection = connection;
            this.mutator = mutator;
        }

        @Override
        public void write(Row row, Context context) throws IOException {
            byte[] key = ((String) row.getField(0)).getBytes(StandardCharsets.UTF_8);
            Mutation mutation = switch (row.getKind()) {
                case INSERT, UPDATE_AFTER -> new Put(key).addColumn(FAMILY, QUALIFIER, ((String) row.getField(1)).getBytes(StandardCharsets.UTF_8));
                case DELETE -> new Delete(key);
                case UPDATE_BEFORE -> null;
            };
            if (mutation != null) {
                batch.put(ByteBuffer.wrap(key), mutation);
                if (batch.size() >= BATCH_ROWS) {
                    flush(false);
                }
            }
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            if (batch.isEmpty()) {
                return;
            }
            mutator.mutate(new ArrayList<>(batch.values()));
            mutator.flush();
            rowsWritten += batch.size();
            batch.clear();
        }

        @Override
        public void close() throws IOException {
            try {
                mutator.close();
            } finally {
                connection.close();
            }
        }
    }
}
