package io.upsertfeedback.connectors.store;

import io.upsertfeedback.schemas.FrontierRecord;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Delete;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.RowMutations;
import org.apache.hadoop.hbase.client.Table;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

import static io.upsertfeedback.connectors.store.BigtableHighVolumeTier.FAMILY;
import static io.upsertfeedback.connectors.store.BigtableHighVolumeTier.bytes;

/**
 * The persist frontier row (row key {@code f} of the store's table, apart from all data rows).
 *
 * <p><b>Columns.</b> {@code epoch}: the writer (one job) that owns the row. {@code c<i>}: sink
 * subtask {@code i}'s acknowledged frontier and source positions (Avro {@link FrontierRecord}).
 * {@code h<i>}: subtask {@code i}'s last heartbeat (epoch millis). The store's
 * {@code P} is the minimum frontier over the {@code c} columns and its positions the
 * per-partition minimum ({@link #read}); no columns means an empty store: {@code P = Long.MIN_VALUE}.
 *
 * <p><b>Fencing.</b> Every column write is a {@code checkAndMutate} on {@code epoch} equal to the
 * writer's own, so once another writer claimed the row, the old one's next write fails and it
 * stops ({@link FencedException}). A new writer {@link #claim claims} the row only if no other
 * writer's heartbeat is younger than the lease; otherwise it fails fast, naming the store and the
 * running writer; a subtask whose input ended {@link #release releases} its lease. Each write is
 * idempotent, so retrying after a lost response is safe.
 *
 * <p><b>Rescaling.</b> The claim folds the previous writer's columns into the new writer's
 * {@code parallelism} columns: each new column starts at the old {@code P} and positions, stale
 * columns are deleted, all in the claim's one mutation; {@code P} is unchanged by a claim.
 */
public final class BigtableFrontier {
    private static final byte[] ROW = bytes("f");
    private static final byte[] EPOCH = bytes("epoch");

    private final Table table;
    private final String storeName;
    private final LongSupplier clock;

    public BigtableFrontier(Connection connection, String table, String storeName) throws IOException {
        this(connection, table, storeName, System::currentTimeMillis);
    }

    BigtableFrontier(Connection connection, String table, String storeName, LongSupplier clock) throws IOException {
        this.table = connection.getTable(TableName.valueOf(table));
        this.storeName = storeName;
        this.clock = clock;
    }

    private static byte[] column(char kind, int subtask) {
        return bytes(kind + Integer.toString(subtask));
    }

    /** The store's frontier {@code P} and resume positions. */
    public FrontierRecord read() throws IOException {
        return fold(table.get(new Get(ROW).addFamily(FAMILY)));
    }

    /** The epoch of the writer owning the row, or {@code null}. */
    public String writer() throws IOException {
        byte[] e = table.get(new Get(ROW).addColumn(FAMILY, EPOCH)).getValue(FAMILY, EPOCH);
        return e == null ? null : new String(e, StandardCharsets.UTF_8);
    }

    private static FrontierRecord fold(Result r) throws IOException {
        long p = Long.MAX_VALUE;
        Map<String, Long> positions = new HashMap<>();
        boolean any = false;
        for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
            String q = new String(CellUtil.cloneQualifier(cell), StandardCharsets.UTF_8);
            if (q.startsWith("c")) {
                any = true;
                FrontierRecord rec = FrontierRecord.fromByteBuffer(ByteBuffer.wrap(CellUtil.cloneValue(cell)));
                p = Math.min(p, rec.getFrontier());
                rec.getPositions().forEach((part, off) -> positions.merge(part, off, Math::min));
            }
        }
        return new FrontierRecord(any ? p : Long.MIN_VALUE, positions);
    }

    /**
     * Makes {@code epoch} the row's writer with {@code parallelism} columns. A no-op if it already
     * is (a restarted subtask of the same job).
     *
     * @throws FencedException when another writer's heartbeat is younger than {@code lease}
     */
    public void claim(String epoch, int parallelism, Duration lease) throws IOException {
        while (true) {
            Result r = table.get(new Get(ROW).addFamily(FAMILY));
            byte[] current = r.getValue(FAMILY, EPOCH);
            if (current != null && epoch.equals(new String(current, StandardCharsets.UTF_8))) {
                return;
            }
            long now = clock.getAsLong();
            RowMutations rm = new RowMutations(ROW);
            Delete stale = new Delete(ROW);
            long youngest = Long.MIN_VALUE;
            for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
                String q = new String(CellUtil.cloneQualifier(cell), StandardCharsets.UTF_8);
                if (q.startsWith("h")) {
                    youngest = Math.max(youngest, ByteBuffer.wrap(CellUtil.cloneValue(cell)).getLong());
                }
                if ((q.startsWith("h") || q.startsWith("c")) && Integer.parseInt(q.substring(1)) >= parallelism) {
                    stale.addColumns(FAMILY, CellUtil.cloneQualifier(cell));
                }
            }
            if (current != null && now - youngest < lease.toMillis()) {
                throw new FencedException("store " + storeName + " is being written by another job (writer epoch "
                        + new String(current, StandardCharsets.UTF_8) + ", last heartbeat " + (now - youngest)
                        + " ms ago): stop that job first, or wait until its lease of " + lease.toMillis()
                        + " ms (sink.writer-lease) has expired");
            }
            FrontierRecord folded = fold(r);
            Put put = new Put(ROW).addColumn(FAMILY, EPOCH, bytes(epoch));
            for (int i = 0; i < parallelism; i++) {
                put.addColumn(FAMILY, column('c', i), folded.toByteBuffer().array());
                put.addColumn(FAMILY, column('h', i), ByteBuffer.allocate(8).putLong(now).array());
            }
            if (!stale.isEmpty()) {
                rm.add(stale);
            }
            rm.add(put);
            Table.CheckAndMutateBuilder check = table.checkAndMutate(ROW, FAMILY).qualifier(EPOCH);
            if ((current == null ? check.ifNotExists() : check.ifEquals(current)).thenMutate(rm)) {
                return;
            }
            // another writer claimed in between: look again (its fresh heartbeat will fence us)
        }
    }

    /** Records subtask {@code subtask}'s acknowledged frontier and positions, if {@code epoch} still owns the row. */
    public void advance(String epoch, int subtask, FrontierRecord record) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('c', subtask), record.toByteBuffer().array())
                .addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(clock.getAsLong()).array()));
    }

    /** Refreshes subtask {@code subtask}'s lease. */
    public void heartbeat(String epoch, int subtask) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(clock.getAsLong()).array()));
    }

    /**
     * Gives up subtask {@code subtask}'s lease (its input ended): once every subtask of the job has,
     * another job may claim the store at once instead of waiting for the lease to expire.
     */
    public void release(String epoch, int subtask) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(0L).array()));
    }

    private void writeColumns(String epoch, Put put) throws IOException {
        if (!table.checkAndMutate(ROW, FAMILY).qualifier(EPOCH).ifEquals(bytes(epoch)).thenPut(put)) {
            throw new FencedException("store " + storeName + " was taken over by writer epoch " + writer()
                    + "; this writer (epoch " + epoch + ") stops");
        }
    }

    public void close() throws IOException {
        table.close();
    }
}
