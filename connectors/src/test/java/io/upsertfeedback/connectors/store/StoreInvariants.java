package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The store invariants checked through the tiers' own contracts (so on every backend) once cleanup
 * has drained: no pending cleanup notes, every row reads as exactly one state (a row the tier cannot
 * decode, such as inline data beside a tombstone, fails the scan; SPEC 4.4), and no long-term object
 * that no tombstone references (no orphan, SPEC 4.3). Returns the tombstones whose object is
 * missing (dangling) so the caller decides which are allowed.
 */
public final class StoreInvariants {
    private StoreInvariants() {}

    public static Set<String> check(HighVolumeTier highVolume, LongTermTier longTerm) throws IOException {
        assertEquals(List.of(), highVolume.listPending(), "pending cleanup notes left");
        Set<String> referenced = new HashSet<>();
        try (CloseableIterator<StoredRow> rows = highVolume.scan(null)) {
            while (rows.hasNext()) {
                RowState state = rows.next().state();
                if (state.isTombstone()) {
                    referenced.add(state.target());
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
