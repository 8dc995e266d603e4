package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.PendingCleanup;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.connectors.store.TransientStorageException;
import io.upsertfeedback.schemas.StoredValueMeta;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.CellUtil;
import org.apache.hadoop.hbase.TableExistsException;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.BufferedMutator;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Delete;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.ResultScanner;
import org.apache.hadoop.hbase.client.RowMutations;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * {@link HighVolumeTier} on Bigtable through its HBase client.
 *
 * <p><b>Row keys.</b> A key's row is {@code 'd' + crc32c(key)[4 bytes] + key}: the hash prefix spreads
 * sequential keys (timestamps, counters) over the whole key space so no single tablet takes all
 * writes, and the key follows verbatim so a scan can give it back. Any key up to
 * {@link TieredStore#MAX_KEY_BYTES} (Bigtable's 4 KiB row-key limit minus the 5-byte prefix) maps to
 * exactly one row; a longer key is rejected. Pending-cleanup notes live in rows {@code 'c' + id} and
 * the persist frontier in row {@code 'f'} ({@link BigtableFrontier}), so data scans never see them.
 *
 * <p><b>Columns</b> (family {@code s}): {@code m} = state kind byte + fence (8 bytes, see
 * {@link RowState#fenced}) + Avro {@code StoredValueMeta} (authoritative: it says which state the row
 * is in, and it is unique per write), {@code d} = inline payload, {@code t} = tombstone target.
 *
 * <p><b>Versions.</b> Every cell of a write carries the write's time as its timestamp (HBase
 * milliseconds; the client stores them as Bigtable microseconds, times 1000, so timestamps stay
 * below 2^52). Reads take the latest version of each column, so a replayed or late write of an
 * older time is stored below the newer one and never read as the row's state: this is what lets
 * {@link #putAll} write without reading first. A row's state is its latest {@code m}; an inline
 * state's {@code d} (a tombstone's {@code t}) is the version with {@code m}'s timestamp. An older
 * {@code d} or {@code t} version under a newer state is an inert leftover of a late write: never
 * read, removed by the next state change at or above it.
 *
 * <p><b>Conditions.</b> The client only supports the single-column
 * {@code checkAndMutate(row, family).qualifier(q)} builder. {@link #compareAndWrite} conditions on
 * {@code m} being exactly the expected state's bytes (or absent): a full compare-and-swap of the
 * row's state, since {@code m} differs between any two writes. Its mutation puts the new state's
 * cells and deletes the other columns' versions at or below its own time only, so it never erases
 * what a later write put there (a late tombstone swap can never tear a newer inline row).
 *
 * <p><b>Retries.</b> The client does not retry conditional mutations. A retry of
 * {@link #compareAndWrite} after a lost response fails its condition ({@code m} changed: to ours),
 * so on a failed condition the row is re-read and our own write is recognised as success.
 */
public final class BigtableHighVolumeTier implements HighVolumeTier {
    public static final byte[] FAMILY = bytes("s");
    public static final byte[] META = bytes("m");
    public static final byte[] DATA = bytes("d");
    public static final byte[] TARGET = bytes("t");
    private static final byte[] NOTE_KEY = bytes("k");
    private static final byte[] NOTE_OBJECT = bytes("o");
    private static final byte[] NOTE_OWNER = bytes("w");
    private static final byte DATA_PREFIX = 'd';
    private static final byte NOTE_PREFIX = 'c';
    /** Cell timestamps are milliseconds; the client scales them to microseconds, so stay well inside a long. */
    private static final long MAX_CELL_TS = 1L << 52;

    private final Connection connection;
    private final boolean ownsConnection;
    private final TableName tableName;
    private final Table table;
    private final BufferedMutator mutator;

    public BigtableHighVolumeTier(Connection connection, String table, boolean ownsConnection) throws IOException {
        this.connection = connection;
        this.ownsConnection = ownsConnection;
        this.tableName = TableName.valueOf(table);
        this.table = connection.getTable(tableName);
        this.mutator = connection.getBufferedMutator(tableName);
    }

    /**
     * Creates the store's table (family {@code s}, one version kept) unless it exists. Several sink
     * subtasks may race to create it: losing that race is success.
     */
    public static void createTableIfMissing(Connection connection, String table) throws IOException {
        TableName name = TableName.valueOf(table);
        try (Admin admin = connection.getAdmin()) {
            if (!admin.tableExists(name)) {
                admin.createTable(TableDescriptorBuilder.newBuilder(name)
                        .setColumnFamily(ColumnFamilyDescriptorBuilder.newBuilder(FAMILY).setMaxVersions(1).build()).build());
            }
        } catch (TableExistsException raced) {
            // another subtask created it between the check and the create
        }
    }

    /** Whether the table exists. */
    public static boolean tableExists(Connection connection, String table) throws IOException {
        try (Admin admin = connection.getAdmin()) {
            return admin.tableExists(TableName.valueOf(table));
        }
    }

    public TableName tableName() {
        return tableName;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] dataRow(byte[] key) {
        if (key.length > TieredStore.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("key of " + key.length + " bytes exceeds the store's limit of "
                    + TieredStore.MAX_KEY_BYTES + " bytes (Bigtable row keys are at most 4 KiB)");
        }
        CRC32C crc = new CRC32C();
        crc.update(key);
        return ByteBuffer.allocate(5 + key.length).put(DATA_PREFIX).putInt((int) crc.getValue()).put(key).array();
    }

    static long cellTs(long time) {
        return Math.max(0, Math.min(time, MAX_CELL_TS));
    }

    /** The {@code m} cell: kind byte, fence (8 bytes), Avro metadata. */
    static byte[] encodeMeta(RowState state) throws IOException {
        ByteBuffer avro = state.meta().toByteBuffer();
        return ByteBuffer.allocate(9 + avro.remaining()).put((byte) state.kind().ordinal()).putLong(state.fence()).put(avro).array();
    }

    private static RowState decode(Result r) throws IOException {
        Cell m = r.getColumnLatestCell(FAMILY, META);
        if (m == null) {
            return RowState.ABSENT;
        }
        ByteBuffer mv = ByteBuffer.wrap(CellUtil.cloneValue(m));
        RowState.Kind kind = RowState.Kind.values()[mv.get()];
        long fence = mv.getLong();
        StoredValueMeta meta = StoredValueMeta.fromByteBuffer(mv.slice());
        return switch (kind) {
            case INLINE -> RowState.inline(cellAt(r, DATA, m.getTimestamp(), kind), meta).fenced(fence);
            case TOMBSTONE -> RowState.tombstone(new String(cellAt(r, TARGET, m.getTimestamp(), kind), StandardCharsets.UTF_8), meta)
                    .fenced(fence);
            case DELETED -> RowState.deleted(meta).fenced(fence);
            case ABSENT -> throw new IOException("corrupt row: state ABSENT recorded in a meta cell");
        };
    }

    /** The value of {@code column} written with the state ({@code m}'s timestamp). */
    private static byte[] cellAt(Result r, byte[] column, long ts, RowState.Kind kind) throws IOException {
        Cell c = r.getColumnLatestCell(FAMILY, column);
        if (c == null || c.getTimestamp() != ts) {
            // Bigtable reads are row-atomic; the emulator's are not under concurrent writes: read again
            throw new TransientStorageException("torn read of a " + kind + " row");
        }
        return CellUtil.cloneValue(c);
    }

    /**
     * The one mutation that moves a row into {@code state}: its cells at its time, and every version
     * at or below that time of the columns the state does not use.
     */
    private static RowMutations mutationsFor(byte[] row, RowState state) throws IOException {
        long ts = cellTs(state.time());
        RowMutations rm = new RowMutations(row);
        Delete delete = new Delete(row);
        if (state.kind() != RowState.Kind.INLINE) {
            delete.addColumns(FAMILY, DATA, ts);
        }
        if (state.kind() != RowState.Kind.TOMBSTONE) {
            delete.addColumns(FAMILY, TARGET, ts);
        }
        rm.add(delete);
        rm.add(putFor(row, state));
        return rm;
    }

    private static Put putFor(byte[] row, RowState state) throws IOException {
        long ts = cellTs(state.time());
        Put put = new Put(row).addColumn(FAMILY, META, ts, encodeMeta(state));
        switch (state.kind()) {
            case INLINE -> put.addColumn(FAMILY, DATA, ts, state.payload());
            case TOMBSTONE -> put.addColumn(FAMILY, TARGET, ts, bytes(state.target()));
            case DELETED -> { }
            case ABSENT -> throw new IllegalArgumentException("cannot write the ABSENT state; write a deletion marker");
        }
        return put;
    }

    @Override
    public RowState read(byte[] key) throws IOException {
        return decode(table.get(new Get(dataRow(key)).addFamily(FAMILY)));
    }

    @Override
    public void putAll(List<StoredRow> rows) throws IOException {
        List<Put> puts = new ArrayList<>(rows.size());
        for (StoredRow r : rows) {
            if (r.state().kind() != RowState.Kind.INLINE && r.state().kind() != RowState.Kind.DELETED) {
                throw new IllegalArgumentException("a plain write only writes inline values and deletion markers, not " + r.state());
            }
            puts.add(putFor(dataRow(r.key()), r.state()));
        }
        table.put(puts);
    }

    @Override
    public boolean compareAndWrite(byte[] key, RowState expected, RowState next) throws IOException {
        byte[] row = dataRow(key);
        Table.CheckAndMutateBuilder check = table.checkAndMutate(row, FAMILY).qualifier(META);
        check = expected.kind() == RowState.Kind.ABSENT ? check.ifNotExists() : check.ifEquals(encodeMeta(expected));
        return check.thenMutate(mutationsFor(row, next)) || read(key).sameWrite(next);
    }

    @Override
    public boolean removeMarker(byte[] key, RowState marker) throws IOException {
        if (marker.kind() != RowState.Kind.DELETED) {
            throw new IllegalArgumentException("only a deletion marker is removed, not " + marker);
        }
        byte[] row = dataRow(key);
        return table.checkAndMutate(row, FAMILY).qualifier(META).ifEquals(encodeMeta(marker)).thenDelete(new Delete(row));
    }

    @Override
    public CloseableIterator<StoredRow> scan(byte[] afterKey) throws IOException {
        Scan scan = new Scan().addFamily(FAMILY).setCaching(256).withStopRow(new byte[] {DATA_PREFIX + 1});
        scan = afterKey == null ? scan.withStartRow(new byte[] {DATA_PREFIX}) : scan.withStartRow(dataRow(afterKey), false);
        ResultScanner scanner = table.getScanner(scan);
        Iterator<Result> it = scanner.iterator();
        return new CloseableIterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public StoredRow next() {
                Result r = it.next();
                byte[] row = r.getRow();
                try {
                    return new StoredRow(Arrays.copyOfRange(row, 5, row.length), decode(r));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override
            public void close() {
                scanner.close();
            }
        };
    }

    private static byte[] noteRow(String id) {
        byte[] idBytes = bytes(id);
        return ByteBuffer.allocate(1 + idBytes.length).put(NOTE_PREFIX).put(idBytes).array();
    }

    @Override
    public void addPending(List<PendingCleanup> notes) throws IOException {
        List<Put> puts = new ArrayList<>(notes.size());
        for (PendingCleanup n : notes) {
            puts.add(new Put(noteRow(n.id())).addColumn(FAMILY, NOTE_KEY, n.key())
                    .addColumn(FAMILY, NOTE_OBJECT, bytes(n.objectName())).addColumn(FAMILY, NOTE_OWNER, bytes(n.owner())));
        }
        table.put(puts);
    }

    @Override
    public void removePending(PendingCleanup note) throws IOException {
        mutator.mutate(new Delete(noteRow(note.id())));
    }

    @Override
    public List<PendingCleanup> listPending() throws IOException {
        List<PendingCleanup> notes = new ArrayList<>();
        Scan scan = new Scan().addFamily(FAMILY).withStartRow(new byte[] {NOTE_PREFIX}).withStopRow(new byte[] {NOTE_PREFIX + 1});
        try (ResultScanner scanner = table.getScanner(scan)) {
            for (Result r : scanner) {
                byte[] row = r.getRow();
                notes.add(new PendingCleanup(new String(row, 1, row.length - 1, StandardCharsets.UTF_8),
                        new String(r.getValue(FAMILY, NOTE_OWNER), StandardCharsets.UTF_8),
                        new String(r.getValue(FAMILY, NOTE_OBJECT), StandardCharsets.UTF_8), r.getValue(FAMILY, NOTE_KEY)));
            }
        }
        return notes;
    }

    @Override
    public void flush() throws IOException {
        mutator.flush();
    }

    @Override
    public String describe() {
        return "bigtable table " + tableName.getNameAsString();
    }

    @Override
    public void close() throws IOException {
        try (Table t = table; BufferedMutator m = mutator) {
            m.flush();
        } finally {
            if (ownsConnection) {
                connection.close();
            }
        }
    }
}
