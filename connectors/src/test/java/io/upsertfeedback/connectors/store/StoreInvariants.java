package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.connectors.embedded.TestBigtable;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.ResultScanner;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.client.Table;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The store invariants checked on the raw tiers once cleanup has drained: no pending cleanup notes,
 * no row with both inline data and a tombstone (on the raw cells, SPEC 4.4), no long-term object
 * that no tombstone references (no orphan, SPEC 4.3). Returns the tombstones whose object is missing
 * (dangling) so the caller decides which are allowed.
 */
final class StoreInvariants {
    private StoreInvariants() {}

    static Set<String> check(String table, HighVolumeTier highVolume, LongTermTier longTerm) throws IOException {
        assertEquals(List.of(), highVolume.listPending(), "pending cleanup notes left");
        Set<String> referenced = new HashSet<>();
        try (Table t = TestBigtable.connection().getTable(TableName.valueOf(table));
             ResultScanner scanner = t.getScanner(new Scan().withStartRow(new byte[] {'d'}).withStopRow(new byte[] {'e'}))) {
            for (Result r : scanner) {
                boolean hasData = r.getValue(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.DATA) != null;
                byte[] target = r.getValue(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.TARGET);
                RowState.Kind kind = RowState.Kind.values()[r.getValue(BigtableHighVolumeTier.FAMILY, BigtableHighVolumeTier.META)[0]];
                if (target != null) {
                    assertFalse(hasData, "a row holds both inline data and a tombstone");
                    assertEquals(RowState.Kind.TOMBSTONE, kind, "a tombstone cell in a row whose state is " + kind);
                    referenced.add(new String(target, UTF_8));
                }
                if (kind == RowState.Kind.INLINE) {
                    assertTrue(hasData, "inline state without data");
                }
            }
        }
        Set<String> objects = new HashSet<>(longTerm.list());
        Set<String> orphans = new HashSet<>(objects);
        orphans.removeAll(referenced);
        assertEquals(Set.of(), orphans, "orphan long-term objects");
        Set<String> dangling = new HashSet<>(referenced);
        dangling.removeAll(objects);
        return dangling;
    }
}
