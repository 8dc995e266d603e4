package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
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

import static io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier.FAMILY;
import static io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier.bytes;

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
public final class BigtableFrontier implements PersistFrontier {
    private static final byte[] ROW = bytes("f");
    private static final byte[] EPOCH = bytes("epoch");
    private static final byte[] LEASE = bytes("lease");

    private final Connection connection;
    private final boolean ownsConnection;
    private final Table table;
    private final String storeName;
    private final LongSupplier clock;

    /** @param ownsConnection whether {@link #close} also closes {@code connection} */
    public BigtableFrontier(Connection connection, String table, String storeName, boolean ownsConnection) throws IOException {
        this(connection, table, storeName, ownsConnection, System::currentTimeMillis);
    }

    BigtableFrontier(Connection connection, String table, String storeName, boolean ownsConnection, LongSupplier clock) throws IOException {
        this.connection = connection;
        this.ownsConnection = ownsConnection;
        this.table = connection.getTable(TableName.valueOf(table));
        this.storeName = storeName;
        this.clock = clock;
    }

    private static byte[] column(char kind, int subtask) {
        return bytes(kind + Integer.toString(subtask));
    }

    @Override
    public FrontierState read() throws IOException {
        FrontierRecord r = fold(table.get(new Get(ROW).addFamily(FAMILY)));
        Map<Integer, Long> positions = new HashMap<>();
        r.getPositions().forEach((partition, offset) -> positions.put(Integer.parseInt(partition.toString()), offset));
        return new FrontierState(r.getFrontier(), positions);
    }

    private static FrontierRecord record(FrontierState state) {
        Map<String, Long> positions = new HashMap<>();
        state.positions().forEach((partition, offset) -> positions.put(Integer.toString(partition), offset));
        return new FrontierRecord(state.p(), positions);
    }

    /** The owner's epoch while one of its subtasks' heartbeats is younger than the lease it claimed with. */
    @Override
    public String leaseHolder() throws IOException {
        Result r = table.get(new Get(ROW).addFamily(FAMILY));
        byte[] owner = r.getValue(FAMILY, EPOCH);
        byte[] lease = r.getValue(FAMILY, LEASE);
        long youngest = youngestHeartbeat(r);
        if (owner == null || lease == null || youngest <= 0 || clock.getAsLong() - youngest >= ByteBuffer.wrap(lease).getLong()) {
            return null;
        }
        return new String(owner, StandardCharsets.UTF_8);
    }

    private static long youngestHeartbeat(Result r) {
        long youngest = Long.MIN_VALUE;
        for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
            if (CellUtil.cloneQualifier(cell)[0] == 'h') {
                youngest = Math.max(youngest, ByteBuffer.wrap(CellUtil.cloneValue(cell)).getLong());
            }
        }
        return youngest;
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
    @Override
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
            long youngest = youngestHeartbeat(r);
            for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
                String q = new String(CellUtil.cloneQualifier(cell), StandardCharsets.UTF_8);
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
            Put put = new Put(ROW).addColumn(FAMILY, EPOCH, bytes(epoch))
                    .addColumn(FAMILY, LEASE, ByteBuffer.allocate(8).putLong(lease.toMillis()).array());
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

    @Override
    public void advance(String epoch, int subtask, FrontierState state) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('c', subtask), record(state).toByteBuffer().array())
                .addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(clock.getAsLong()).array()));
    }

    @Override
    public void heartbeat(String epoch, int subtask) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(clock.getAsLong()).array()));
    }

    @Override
    public void release(String epoch, int subtask) throws IOException {
        writeColumns(epoch, new Put(ROW).addColumn(FAMILY, column('h', subtask), ByteBuffer.allocate(8).putLong(0L).array()));
    }

    private void writeColumns(String epoch, Put put) throws IOException {
        if (!table.checkAndMutate(ROW, FAMILY).qualifier(EPOCH).ifEquals(bytes(epoch)).thenPut(put)) {
            throw new FencedException("store " + storeName + " was taken over by writer epoch " + owner()
                    + "; this writer (epoch " + epoch + ") stops");
        }
    }

    private String owner() throws IOException {
        byte[] e = table.get(new Get(ROW).addColumn(FAMILY, EPOCH)).getValue(FAMILY, EPOCH);
        return e == null ? null : new String(e, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        try {
            table.close();
        } finally {
            if (ownsConnection) {
                connection.close();
            }
        }
    }
}
