package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.schemas.StoredValueMeta;
import io.upsertfeedback.schemas.ValueEncoding;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Table;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the plain write path relies on, checked on the emulator through the real HBase client
 * rather than assumed: cell timestamps are HBase milliseconds end to end, a write of an older
 * timestamp lands below a newer one, and a condition on a column compares its latest version only.
 */
class BigtableVersionsTest {
    private static final byte[] ROW = "r".getBytes(UTF_8);
    private static final byte[] KEY = "k".getBytes(UTF_8);
    private String table;
    private Table raw;
    private BigtableHighVolumeTier tier;

    @BeforeEach
    void setUp() throws IOException {
        table = TestBigtable.freshTable("versions");
        raw = TestBigtable.connection().getTable(TableName.valueOf(table));
        tier = new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
    }

    @AfterEach
    void tearDown() throws IOException {
        tier.close();
        raw.close();
    }

    private static RowState inline(String value, long time, long offset) {
        return RowState.inline(value.getBytes(UTF_8), new StoredValueMeta(ValueEncoding.RAW, (long) value.length(), time, 0, offset, null));
    }

    @Test
    void cellTimestampsAreMillisecondsThroughTheClient() throws IOException {
        long big = 1L << 52;
        raw.put(new Put(ROW).addColumn(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.DATA, 1234L, new byte[] {1}));
        raw.put(new Put(ROW).addColumn(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.META, big, new byte[] {2}));
        Result r = raw.get(new Get(ROW));
        assertEquals(1234L, r.getColumnLatestCell(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.DATA).getTimestamp(),
                "a millisecond timestamp comes back unchanged (the client stores it as microseconds)");
        assertEquals(big, r.getColumnLatestCell(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.META).getTimestamp(),
                "the largest cell timestamp the store uses survives the conversion");
    }

    @Test
    void aLateWriteOfAnOlderTimeLandsBelowTheNewerOne() throws IOException {
        tier.putAll(List.of(new StoredRow(KEY, inline("ten", 10, 1))));
        tier.putAll(List.of(new StoredRow(KEY, inline("five", 5, 2))));
        RowState now = tier.read(KEY);
        assertArrayEquals("ten".getBytes(UTF_8), now.payload());
        assertEquals(10, now.time());
        tier.putAll(List.of(new StoredRow(KEY, RowState.deleted(new StoredValueMeta(ValueEncoding.RAW, 0L, 7L, 0, 3L, null)))));
        assertEquals(RowState.Kind.INLINE, tier.read(KEY).kind(), "an older delete does not hide a newer value");
    }

    @Test
    void aConditionComparesTheLatestVersionOnly() throws IOException {
        RowState ten = inline("ten", 10, 1);
        RowState five = inline("five", 5, 2);
        tier.putAll(List.of(new StoredRow(KEY, ten)));
        tier.putAll(List.of(new StoredRow(KEY, five)));
        assertFalse(tier.compareAndWrite(KEY, five, inline("twelve", 12, 3)), "the older version is not the row's state");
        assertTrue(tier.compareAndWrite(KEY, ten, inline("twelve", 12, 3)));
        assertArrayEquals("twelve".getBytes(UTF_8), tier.read(KEY).payload());
    }
}
