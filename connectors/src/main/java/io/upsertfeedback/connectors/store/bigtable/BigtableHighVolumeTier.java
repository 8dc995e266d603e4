package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.PendingCleanup;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.connectors.store.TransientStorageException;
import io.upsertfeedback.schemas.StoredValueMeta;
import org.apache.hadoop.hbase.TableExistsException;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.BufferedMutator;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.Delete;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.ResultScanner;
import org.apache.hadoop.hbase.client.RowMutations;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.client.Table;

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
 * {@link TieredStore#MAX_KEY_BYTES} (Bigtable's 4 KiB row-key limit minus the 5-byte prefix) maps to exactly
 * one row; a longer key is rejected. Pending-cleanup notes live in rows {@code 'c' + id} and the
 * persist frontier in row {@code 'f'} ({@link BigtableFrontier}), so data scans never see them.
 *
 * <p><b>Columns</b> (family {@code s}, one version kept): {@code m} = state kind byte + Avro
 * {@code StoredValueMeta} (authoritative: it says which state the row is in), {@code d} = inline
 * payload, {@code t} = tombstone target. The client only supports the single-column
 * {@code checkAndMutate(row, family).qualifier(q)} builder, so every condition is on the one column
 * that decides races, {@code t}: "no tombstone" is {@code ifNotExists()}, "this tombstone" is
 * {@code ifEquals(target)} (revision names are unique, so equal bytes mean the same object).
 * Each state change is one {@link RowMutations}, so {@code d} and {@code t} never coexist.
 *
 * <p><b>Time.</b> Cells carry the value's time as their timestamp: a replayed write rewrites the
 * same cells, and reads (latest version) never return an older write's cells over a newer one's.
 * A deletion removes only {@code d} cells at or before its time and leaves its marker in {@code m}.
 *
 * <p><b>Retries.</b> The client does not retry conditional mutations. A retry of
 * {@link #compareAndWrite} after a lost response fails its condition (the target changed: to ours),
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
    private static final int MAX_CONDITION_ROUNDS = 64;

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

    static byte[] encodeMeta(RowState.Kind kind, StoredValueMeta meta) throws IOException {
        ByteBuffer avro = meta.toByteBuffer();
        return ByteBuffer.allocate(1 + avro.remaining()).put((byte) kind.ordinal()).put(avro).array();
    }

    private static RowState decode(Result r) throws IOException {
        byte[] m = r.getValue(FAMILY, META);
        if (m == null) {
            return RowState.ABSENT;
        }
        RowState.Kind kind = RowState.Kind.values()[m[0]];
        StoredValueMeta meta = StoredValueMeta.fromByteBuffer(ByteBuffer.wrap(m, 1, m.length - 1));
        byte[] data = r.getValue(FAMILY, DATA);
        byte[] target = r.getValue(FAMILY, TARGET);
        if ((kind == RowState.Kind.INLINE && data == null) || (kind == RowState.Kind.TOMBSTONE && target == null)) {
            // Bigtable reads are row-atomic; the emulator's are not under concurrent writes: read again
            throw new TransientStorageException("torn read of a " + kind + " row");
        }
        return switch (kind) {
            case INLINE -> RowState.inline(data, meta);
            case TOMBSTONE -> RowState.tombstone(new String(target, StandardCharsets.UTF_8), meta);
            case DELETED -> RowState.deleted(meta);
            case ABSENT -> throw new IOException("corrupt row: state ABSENT recorded in a meta cell");
        };
    }

    /** The one mutation that moves a row into {@code state}; also removes whatever the other states left. */
    private static RowMutations mutationsFor(byte[] row, RowState state) throws IOException {
        long ts = cellTs(state.time());
        Put put = new Put(row).addColumn(FAMILY, META, ts, encodeMeta(state.kind(), state.meta()));
        Delete delete = new Delete(row);
        switch (state.kind()) {
            case INLINE -> {
                put.addColumn(FAMILY, DATA, ts, state.payload());
                delete.addColumns(FAMILY, TARGET);
            }
            case TOMBSTONE -> {
                put.addColumn(FAMILY, TARGET, ts, bytes(state.target()));
                delete.addColumns(FAMILY, DATA);
            }
            case DELETED -> {
                delete.addColumns(FAMILY, TARGET);
                delete.addColumns(FAMILY, DATA, ts);
            }
            case ABSENT -> throw new IllegalArgumentException("cannot write the ABSENT state; write a deletion marker");
        }
        RowMutations rm = new RowMutations(row);
        rm.add(delete);
        rm.add(put);
        return rm;
    }

    @Override
    public RowState read(byte[] key) throws IOException {
        return decode(table.get(new Get(dataRow(key)).addFamily(FAMILY)));
    }

    @Override
    public RowState putIfNotTombstone(byte[] key, byte[] payload, StoredValueMeta meta) throws IOException {
        return writeIfNoTombstone(key, RowState.inline(payload, meta));
    }

    @Override
    public RowState deleteIfNotTombstone(byte[] key, StoredValueMeta meta) throws IOException {
        return writeIfNoTombstone(key, RowState.deleted(meta));
    }

    private RowState writeIfNoTombstone(byte[] key, RowState state) throws IOException {
        byte[] row = dataRow(key);
        RowMutations rm = mutationsFor(row, state);
        for (int round = 0; round < MAX_CONDITION_ROUNDS; round++) {
            if (table.checkAndMutate(row, FAMILY).qualifier(TARGET).ifNotExists().thenMutate(rm)) {
                return null;
            }
            RowState now = read(key);
            if (now.isTombstone()) {
                return now;
            }
        }
        throw new TransientStorageException("row of key in " + describe() + " kept changing under a conditional write");
    }

    @Override
    public boolean compareAndWrite(byte[] key, String expectedTarget, RowState newState) throws IOException {
        byte[] row = dataRow(key);
        Table.CheckAndMutateBuilder check = table.checkAndMutate(row, FAMILY).qualifier(TARGET);
        check = expectedTarget == null ? check.ifNotExists() : check.ifEquals(bytes(expectedTarget));
        return check.thenMutate(mutationsFor(row, newState)) || read(key).sameWrite(newState);
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
