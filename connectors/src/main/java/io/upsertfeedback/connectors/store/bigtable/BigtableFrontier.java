package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.LeaseWatch;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.Retrier;
import io.upsertfeedback.schemas.FrontierRecord;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Delete;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.RetriesExhaustedWithDetailsException;
import org.apache.hadoop.hbase.client.RowMutations;
import org.apache.hadoop.hbase.client.Table;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.LongSupplier;

import static io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier.FAMILY;
import static io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier.bytes;

/**
 * The {@link PersistFrontier} in row {@code f} of the store's table, apart from all data rows.
 *
 * <p><b>Columns.</b> {@code epoch}: the job that owns the row; {@code lease}: its lease in
 * milliseconds; {@code n}: its parallelism. {@code c<i>}: subtask {@code i}'s column: the token of
 * the attempt holding it (2-byte length + UTF-8) followed by its acknowledged frontier and
 * positions (Avro {@link FrontierRecord}). {@code h<i>}: subtask {@code i}'s last heartbeat (epoch
 * millis; 0 once released). {@code P} and the positions are {@link FrontierState#fold} of the
 * {@code c} columns; no columns means an empty store: {@code P = Long.MIN_VALUE}.
 *
 * <p><b>Conditions</b> (the client's single-column {@code checkAndMutate}): a claim by another
 * epoch is conditioned on {@code epoch}, a fold within the job on {@code n}, an attempt's claim of
 * its column and every write of a {@link Lease} on {@code c<i>} holding exactly the bytes that
 * lease last wrote. Whoever takes a column over changes its token, so the previous holder's next
 * conditional write fails: fencing by a value checked in the same mutation. A lease's column
 * only moves forward: it is the only writer of its bytes, and it ignores lower frontiers.
 *
 * <p><b>Leases between jobs.</b> A claim by another epoch is refused while the owner is alive by
 * {@link LeaseWatch} (one of its heartbeats moves while the claimer watches, on the claimer's own
 * clock, for at most the owner's lease), unless the owner is among the claimer's predecessors;
 * released subtasks (heartbeat 0) do not count. This decides only when a new job may start; which
 * writer may write is decided by the conditions above, never by clocks.
 */
public final class BigtableFrontier implements PersistFrontier {
    private static final byte[] ROW = bytes("f");
    private static final byte[] EPOCH = bytes("epoch");
    private static final byte[] LEASE = bytes("lease");
    private static final byte[] PARALLELISM = bytes("n");

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

    private static byte[] encode(String token, FrontierRecord record) throws IOException {
        byte[] t = bytes(token);
        ByteBuffer avro = record.toByteBuffer();
        return ByteBuffer.allocate(2 + t.length + avro.remaining()).putShort((short) t.length).put(t).put(avro).array();
    }

    private static String token(byte[] column) {
        ByteBuffer b = ByteBuffer.wrap(column);
        int length = b.getShort();
        return new String(column, 2, length, StandardCharsets.UTF_8);
    }

    private static FrontierRecord record(byte[] column) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(column);
        int length = b.getShort();
        b.position(2 + length);
        return FrontierRecord.fromByteBuffer(b.slice());
    }

    private static FrontierRecord record(FrontierState state) {
        Map<String, Long> positions = new HashMap<>();
        state.positions().forEach((partition, offset) -> positions.put(Integer.toString(partition), offset));
        return new FrontierRecord(state.p(), positions);
    }

    private static byte[] millis(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }

    private Result row() throws IOException {
        try {
            return table.get(new Get(ROW).addFamily(FAMILY));
        } catch (RetriesExhaustedWithDetailsException e) {
            throw interruptedOr(e);
        }
    }

    /**
     * {@code e} as an {@link InterruptedIOException} when one of its per-row failures is an
     * interruption (the HBase adapter reports an interrupted read so: the task is stopping), else
     * {@code e} itself.
     */
    static IOException interruptedOr(RetriesExhaustedWithDetailsException e) {
        for (int i = 0; i < e.getNumExceptions(); i++) {
            if (Retrier.isInterruption(e.getCause(i))) {
                InterruptedIOException interrupted = new InterruptedIOException("interrupted while reading the frontier row");
                interrupted.initCause(e);
                return interrupted;
            }
        }
        return e;
    }

    @Override
    public FrontierState read() throws IOException {
        return fold(row());
    }

    private static FrontierState state(FrontierRecord r) {
        Map<Integer, Long> positions = new HashMap<>();
        r.getPositions().forEach((partition, offset) -> positions.put(Integer.parseInt(partition.toString()), offset));
        return new FrontierState(r.getFrontier(), positions);
    }

    @Override
    public LeaseWatch.Observation observeLease() throws IOException {
        return observe(row());
    }

    private static LeaseWatch.Observation observe(Result r) {
        byte[] owner = r.getValue(FAMILY, EPOCH);
        byte[] lease = r.getValue(FAMILY, LEASE);
        Map<Integer, Long> heartbeats = new HashMap<>();
        for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
            byte[] q = CellUtil.cloneQualifier(cell);
            if (q[0] == 'h') {
                heartbeats.put(Integer.parseInt(new String(q, 1, q.length - 1, StandardCharsets.UTF_8)),
                        ByteBuffer.wrap(CellUtil.cloneValue(cell)).getLong());
            }
        }
        return new LeaseWatch.Observation(owner == null ? null : new String(owner, StandardCharsets.UTF_8),
                Duration.ofMillis(lease == null ? 0 : ByteBuffer.wrap(lease).getLong()), heartbeats);
    }

    /** The row's frontier over its {@code c} columns ({@link FrontierState#fold}). */
    private static FrontierState fold(Result r) throws IOException {
        List<FrontierState> columns = new ArrayList<>();
        for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
            if (CellUtil.cloneQualifier(cell)[0] == 'c') {
                columns.add(state(record(CellUtil.cloneValue(cell))));
            }
        }
        return FrontierState.fold(columns);
    }

    @Override
    public Lease claim(String epoch, Set<String> predecessors, int subtask, int parallelism, Duration lease) throws IOException {
        if (subtask < 0 || subtask >= parallelism) {
            throw new IllegalArgumentException("subtask " + subtask + " of " + parallelism);
        }
        String token = epoch + "/" + subtask + "/" + UUID.randomUUID();
        String silent = null; // a holder watched for a whole lease without a heartbeat
        while (true) {
            Result r = row();
            byte[] owner = r.getValue(FAMILY, EPOCH);
            byte[] n = r.getValue(FAMILY, PARALLELISM);
            long now = clock.getAsLong();
            if (owner == null || !epoch.equals(new String(owner, StandardCharsets.UTF_8))) {
                LeaseWatch.Observation held = observe(r);
                if (!held.free() && !predecessors.contains(held.owner()) && !held.owner().equals(silent)) {
                    if (LeaseWatch.alive(this::observeLease, held)) {
                        throw new FencedException("store " + storeName + " is being written by another job (writer epoch "
                                + held.owner() + "): stop that job first, or wait until its lease of "
                                + held.lease().toMillis() + " ms (sink.writer-lease) has expired");
                    }
                    silent = held.owner();
                    continue; // look at the row again, as it is after the watch
                }
                Table.CheckAndMutateBuilder check = table.checkAndMutate(ROW, FAMILY).qualifier(EPOCH);
                byte[] mine = encode(token, record(fold(r)));
                if ((owner == null ? check.ifNotExists() : check.ifEquals(owner)).thenMutate(foldInto(r, epoch, subtask, parallelism, lease, token, now))) {
                    return new BigtableLease(subtask, token, mine);
                }
            } else if (n == null || ByteBuffer.wrap(n).getInt() != parallelism || r.getValue(FAMILY, column('c', subtask)) == null) {
                // the same job rescaled in place: fold the columns of the old parallelism into the new one
                Table.CheckAndMutateBuilder check = table.checkAndMutate(ROW, FAMILY).qualifier(PARALLELISM);
                byte[] mine = encode(token, record(fold(r)));
                if ((n == null ? check.ifNotExists() : check.ifEquals(n)).thenMutate(foldInto(r, epoch, subtask, parallelism, lease, token, now))) {
                    return new BigtableLease(subtask, token, mine);
                }
            } else {
                byte[] current = r.getValue(FAMILY, column('c', subtask));
                byte[] mine = encode(token, record(current));
                if (table.checkAndMutate(ROW, FAMILY).qualifier(column('c', subtask)).ifEquals(current)
                        .thenPut(new Put(ROW).addColumn(FAMILY, column('c', subtask), mine).addColumn(FAMILY, column('h', subtask), millis(now)))) {
                    return new BigtableLease(subtask, token, mine);
                }
            }
            // the row changed in between: look again
        }
    }

    /** One mutation: owner, lease, parallelism, every column at the folded P and positions, stale columns removed. */
    private static RowMutations foldInto(Result r, String epoch, int subtask, int parallelism, Duration lease, String token, long now)
            throws IOException {
        FrontierRecord folded = record(fold(r));
        Put put = new Put(ROW).addColumn(FAMILY, EPOCH, bytes(epoch)).addColumn(FAMILY, LEASE, millis(lease.toMillis()))
                .addColumn(FAMILY, PARALLELISM, ByteBuffer.allocate(4).putInt(parallelism).array());
        for (int i = 0; i < parallelism; i++) {
            String t = i == subtask ? token : epoch + "/" + i + "/unclaimed-" + UUID.randomUUID();
            put.addColumn(FAMILY, column('c', i), encode(t, folded));
            put.addColumn(FAMILY, column('h', i), millis(now));
        }
        Delete stale = new Delete(ROW);
        for (Cell cell : r.isEmpty() ? new Cell[0] : r.rawCells()) {
            byte[] q = CellUtil.cloneQualifier(cell);
            if ((q[0] == 'c' || q[0] == 'h') && Integer.parseInt(new String(q, 1, q.length - 1, StandardCharsets.UTF_8)) >= parallelism) {
                stale.addColumns(FAMILY, q);
            }
        }
        RowMutations rm = new RowMutations(ROW);
        if (!stale.isEmpty()) {
            rm.add(stale);
        }
        rm.add(put);
        return rm;
    }

    /** One attempt's hold on column {@code c<subtask>}. */
    private final class BigtableLease implements Lease {
        private final int subtask;
        private final String token;
        private byte[] last;

        BigtableLease(int subtask, String token, byte[] last) {
            this.subtask = subtask;
            this.token = token;
            this.last = last;
        }

        @Override
        public synchronized void advance(FrontierState state) throws IOException {
            if (state.p() < record(last).getFrontier()) {
                return; // a column never goes backwards
            }
            byte[] next = encode(token, record(state));
            write(new Put(ROW).addColumn(FAMILY, column('c', subtask), next).addColumn(FAMILY, column('h', subtask), millis(clock.getAsLong())),
                    next);
            last = next;
        }

        @Override
        public synchronized void heartbeat() throws IOException {
            write(new Put(ROW).addColumn(FAMILY, column('h', subtask), millis(clock.getAsLong())), last);
        }

        @Override
        public synchronized void release() throws IOException {
            write(new Put(ROW).addColumn(FAMILY, column('h', subtask), millis(0)), last);
        }

        /** Applies {@code put} if the column still holds {@code last}; a retry after a lost response finds {@code expectedAfter}. */
        private void write(Put put, byte[] expectedAfter) throws IOException {
            byte[] c = column('c', subtask);
            if (table.checkAndMutate(ROW, FAMILY).qualifier(c).ifEquals(last).thenPut(put)) {
                return;
            }
            byte[] now = row().getValue(FAMILY, c);
            if (now != null && Arrays.equals(now, expectedAfter) && expectedAfter != last) {
                return;
            }
            throw new FencedException("store " + storeName + ": subtask " + subtask + "'s frontier was taken over by "
                    + (now == null ? "a rescale" : "writer " + token(now)) + "; this writer (" + token + ") stops");
        }
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
