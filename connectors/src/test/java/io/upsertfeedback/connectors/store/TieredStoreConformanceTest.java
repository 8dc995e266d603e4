package io.upsertfeedback.connectors.store;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.schemas.ValueEncoding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one conformance suite of the tiered store (SPEC section 4), run by a subclass per backend
 * combination: the Bigtable emulator as the high-volume tier with each long-term tier, and the
 * in-memory tiers. Every test
 * works on a fresh table and a fresh long-term location; faults are injected by wrapping the real
 * tiers ({@link Faults}). {@link #assertConsistent} is the shared invariant check.
 */
abstract class TieredStoreConformanceTest {
    /** Small threshold so that "large" values stay cheap to move around. */
    static final long THRESHOLD = 1024;
    /** Ranged reads kick in above 8 KiB in 3000-byte ranges, 3 at a time. */
    static final RangeReader.Settings RANGES = new RangeReader.Settings(8 * 1024, 3000, 3, Duration.ofSeconds(10));
    static final byte[] KEY = "key-1".getBytes(UTF_8);

    protected HighVolumeTier highVolume;
    protected LongTermTier longTerm;
    protected Faults.Plan faults;
    protected TieredStore store;
    private String table;
    private final List<TieredStore> opened = new ArrayList<>();
    private final Random random = new Random(42);

    /** A fresh, empty long-term tier. */
    protected abstract LongTermTier newLongTerm() throws IOException;

    /** A fresh, empty high-volume tier: a new Bigtable table unless overridden. */
    protected HighVolumeTier newHighVolume() throws IOException {
        table = TestBigtable.freshTable("conformance");
        return highVolumeView();
    }

    /** Another client of this test's high-volume tier (each store has its own, as separate writers do). */
    protected HighVolumeTier highVolumeView() throws IOException {
        return new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
    }

    @BeforeEach
    void setUp() throws IOException {
        highVolume = newHighVolume();
        longTerm = newLongTerm();
        faults = new Faults.Plan();
        store = newStore("writer-a", faults, 4);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (TieredStore s : opened) {
            s.close();
        }
        highVolume.close();
        longTerm.close();
    }

    /** A store over this test's tiers, with its own owner name and fault plan. */
    protected TieredStore newStore(String owner, Faults.Plan plan, int attempts) throws IOException {
        HighVolumeTier hv = Faults.wrap(HighVolumeTier.class, highVolumeView(), plan);
        LongTermTier lt = Faults.wrap(LongTermTier.class, sharedLongTerm(), plan);
        TieredStore s = new TieredStore(hv, lt, THRESHOLD, new Retrier(attempts, Duration.ofMillis(1), Duration.ofMillis(4)), 64, owner, null);
        opened.add(s);
        return s;
    }

    private LongTermTier sharedLongTerm() {
        // every store of a test shares the one long-term location; only the test closes it
        return new SharedLongTerm(longTerm);
    }

    byte[] small(String text) {
        return text.getBytes(UTF_8);
    }

    byte[] large(int size) {
        byte[] b = new byte[size];
        random.nextBytes(b);
        return b;
    }

    RowState row(byte[] key) throws IOException {
        return highVolume.read(key);
    }

    byte[] value(byte[] key) throws IOException {
        return store.get(key).map(e -> e.value().bytes()).orElse(null);
    }

    /**
     * After cleanup: the {@link StoreInvariants}, and no tombstone points at a missing object.
     */
    void assertConsistent(TieredStore... stores) throws Exception {
        for (TieredStore s : stores.length == 0 ? new TieredStore[] {store} : stores) {
            s.drainCleanup();
        }
        assertEquals(Set.of(), StoreInvariants.check(highVolume, longTerm), "tombstones pointing at missing objects");
    }

    /**
     * Issue 11, "the store only grows": a deletion marker whose delete no replay can bring again is
     * collected with its row; a marker that a later write replaced stays that write.
     */
    @Test
    void aCollectedDeletionMarkerLeavesNoRowAndAReplacedOneIsKept() throws IOException {
        byte[] other = "key-2".getBytes(UTF_8);
        UpsertValue v = UpsertValue.of("v".getBytes(UTF_8));
        store.put(KEY, v, 1, 0, 1);
        store.delete(KEY, 2, 0, 2);
        store.put(other, v, 1, 0, 3);
        store.delete(other, 2, 0, 4);
        store.put(other, v, 3, 0, 5);
        assertTrue(store.collectMarker(store.prepare(new TieredStore.Write(KEY, null, 2, 0, 2))));
        assertFalse(store.collectMarker(store.prepare(new TieredStore.Write(other, null, 2, 0, 4))), "replaced by a later put");
        List<String> rows = new ArrayList<>();
        try (CloseableIterator<StoredRow> it = highVolume.scan(null)) {
            it.forEachRemaining(r -> rows.add(new String(r.key(), UTF_8) + "=" + r.state().kind()));
        }
        assertEquals(List.of("key-2=INLINE"), rows);
        assertFalse(store.collectMarker(store.prepare(new TieredStore.Write(KEY, null, 2, 0, 2))), "collected already");
    }

    @Test
    void smallPutStaysInline() throws Exception {
        assertEquals(TieredStore.Outcome.WRITTEN, store.put(KEY, UpsertValue.of(small("hello")), 1, 0, 10));
        RowState s = row(KEY);
        assertEquals(RowState.Kind.INLINE, s.kind());
        assertEquals(ValueEncoding.RAW, s.meta().getEncoding());
        assertArrayEquals(small("hello"), value(KEY));
        StoredEntry e = store.get(KEY).orElseThrow();
        assertEquals(0, e.meta().getPartition());
        assertEquals(10L, e.meta().getOffset());
        assertEquals(List.of(), longTerm.list());
        assertConsistent();
    }

    @Test
    void compressibleValuesAreStoredWithZstd() throws Exception {
        byte[] zeros = new byte[64 * 1024];
        store.put(KEY, UpsertValue.of(zeros), 1, 0, 1);
        RowState s = row(KEY);
        assertEquals(RowState.Kind.INLINE, s.kind(), "64 KiB of zeros compresses below the threshold");
        assertEquals(ValueEncoding.ZSTD, s.meta().getEncoding());
        assertEquals(zeros.length, s.meta().getSize());
        assertArrayEquals(zeros, value(KEY));
        assertConsistent();
    }

    @Test
    void largePutCreatesTombstoneAndObject() throws Exception {
        byte[] big = large(20_000);
        store.put(KEY, UpsertValue.of(big), 1, 0, 1);
        RowState s = row(KEY);
        assertEquals(RowState.Kind.TOMBSTONE, s.kind());
        assertEquals(List.of(s.target()), longTerm.list());
        assertArrayEquals(big, value(KEY), "read back through concurrent range reads");
        assertConsistent();
    }

    @Test
    void errorValuesStayErrorValuesInBothTiers() throws Exception {
        byte[] other = "k2".getBytes(UTF_8);
        store.put(KEY, UpsertValue.error(small("not avro"), "bad magic byte"), 1, 0, 1);
        store.put(other, UpsertValue.error(large(5000), "too long"), 1, 0, 2);
        assertEquals(UpsertValue.error(small("not avro"), "bad magic byte"), store.get(KEY).orElseThrow().value());
        UpsertValue big = store.get(other).orElseThrow().value();
        assertTrue(big.isError());
        assertEquals("too long", big.error());
        assertConsistent();
    }

    @Test
    void smallOverLargeSwapsToInlineAndDeletesTheOldObject() throws Exception {
        store.put(KEY, UpsertValue.of(large(5000)), 1, 0, 1);
        store.put(KEY, UpsertValue.of(small("now small")), 2, 0, 2);
        assertEquals(RowState.Kind.INLINE, row(KEY).kind());
        assertArrayEquals(small("now small"), value(KEY));
        assertConsistent();
        assertEquals(List.of(), longTerm.list());
    }

    @Test
    void largeOverLargeReplacesTheRevisionAndDeletesTheFirst() throws Exception {
        store.put(KEY, UpsertValue.of(large(5000)), 1, 0, 1);
        String first = row(KEY).target();
        byte[] second = large(6000);
        store.put(KEY, UpsertValue.of(second), 2, 0, 2);
        String now = row(KEY).target();
        assertFalse(first.equals(now), "a new revision name");
        assertArrayEquals(second, value(KEY));
        assertConsistent();
        assertEquals(List.of(now), longTerm.list());
    }

    @Test
    void deleteOfLargeRemovesTombstoneAndObject() throws Exception {
        store.put(KEY, UpsertValue.of(large(5000)), 1, 0, 1);
        store.delete(KEY, 2, 0, 2);
        assertEquals(RowState.Kind.DELETED, row(KEY).kind());
        assertEquals(Optional.empty(), store.get(KEY));
        assertConsistent();
        assertEquals(List.of(), longTerm.list());
        assertEquals(0, store.snapshot().size());
    }

    @Test
    void compareAndWriteConflictLeavesOneConsistentStateAndCleansTheLosersObject() throws Exception {
        TieredStore other = newStore("writer-b", new Faults.Plan(), 4);
        byte[] theirs = large(5000);
        byte[] ours = large(7000);
        // writer b commits its tombstone after we read the row and uploaded our object: our swap loses
        faults.before("compareAndWrite", () -> other.put(KEY, UpsertValue.of(theirs), 5, 0, 1));
        store.put(KEY, UpsertValue.of(ours), 5, 0, 2);
        assertTrue(store.metrics().conditionConflicts.sum() >= 1, "the first swap lost the race");
        assertArrayEquals(ours, value(KEY), "our retry over their tombstone won");
        assertConsistent(store, other);
        assertEquals(List.of(row(KEY).target()), longTerm.list(), "the loser's first object and theirs are gone");
    }

    /**
     * An older large put (t=5) whose compare-and-write comes after a newer small put (t=10) by
     * another writer: the late swap used to delete every version of the data column under the newer
     * inline metadata, and every read of the key failed as "torn" forever.
     */
    @Test
    void aLateLargePutNeverTearsTheNewerSmallValueItRacedWith() throws Exception {
        TieredStore other = newStore("writer-b", new Faults.Plan(), 4);
        faults.before("compareAndWrite", () -> other.put(KEY, UpsertValue.of(small("newer")), 10, 0, 2));
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(large(8192)), 5, 0, 1));
        assertArrayEquals(small("newer"), value(KEY));
        assertEquals(10, row(KEY).time());
        assertConsistent(store, other);
        assertEquals(List.of(), longTerm.list(), "the late put's object is cleaned up");
    }

    /**
     * After a failover, the new attempt recovers the cleanup notes while the old attempt (a zombie)
     * has uploaded its object and is about to commit the tombstone: recovery used to delete the
     * object and the zombie then committed a pointer to it, so the key read as absent.
     */
    @Test
    void aNewAttemptsRecoveryNeverDeletesWhatAZombieIsAboutToCommit() throws Exception {
        byte[] big = large(8192);
        TieredStore next = newStore("writer-a2", new Faults.Plan(), 4);
        faults.before("compareAndWrite", () -> next.recoverPendingCleanups(owner -> true));
        assertEquals(TieredStore.Outcome.WRITTEN, store.put(KEY, UpsertValue.of(big), 5, 0, 1));
        assertTrue(store.metrics().conditionConflicts.sum() >= 1, "the zombie's first commit was fenced");
        assertArrayEquals(big, value(KEY), "the key holds the value, not a dangling tombstone");
        assertConsistent(store, next);
    }

    @Test
    void plainWritesOfOlderTimesLandBelowNewerOnes() throws Exception {
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, UpsertValue.of(small("v10")), 10, 0, 10))));
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, UpsertValue.of(small("v5")), 5, 0, 5)),
                store.prepare(new TieredStore.Write(KEY, null, 7, 0, 7))));
        assertArrayEquals(small("v10"), value(KEY), "a replayed batch never overwrites a newer value");
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, null, 12, 0, 12))));
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, UpsertValue.of(small("v11")), 11, 0, 11))));
        assertEquals(Optional.empty(), store.get(KEY), "no resurrection below a deletion marker");
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(large(5000)), 11, 0, 11),
                "the conditional path sees the plain writes' order");
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, UpsertValue.of(small("v13")), 13, 0, 13))));
        store.put(KEY, UpsertValue.of(large(5000)), 14, 0, 14);
        assertEquals(RowState.Kind.TOMBSTONE, row(KEY).kind());
        store.writePlain(List.of(store.prepare(new TieredStore.Write(KEY, UpsertValue.of(small("late")), 13, 0, 13))));
        assertEquals(RowState.Kind.TOMBSTONE, row(KEY).kind(), "a replayed plain write under a tombstone stays below it");
        assertNotNull(value(KEY));
        assertConsistent();
    }

    @Test
    void replayingTheSameCommandIsANoOp() throws Exception {
        byte[] big = large(5000);
        store.put(KEY, UpsertValue.of(big), 3, 1, 40);
        String target = row(KEY).target();
        assertEquals(TieredStore.Outcome.WRITTEN, store.put(KEY, UpsertValue.of(big), 3, 1, 40));
        assertEquals(target, row(KEY).target(), "no second revision for a replay");
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(small("x")), 3, 1, 39), "an earlier offset at the same time");
        assertEquals(TieredStore.Outcome.WRITTEN, store.put(KEY, UpsertValue.of(small("y")), 3, 2, 0), "a later partition at the same time");
        assertArrayEquals(small("y"), value(KEY));
        assertConsistent();
        assertEquals(List.of(), longTerm.list());
    }

    @Test
    void lostCompareAndWriteResponseIsRetriedAsSuccess() throws Exception {
        faults.on("compareAndWrite", 0, Faults.Kind.LOST_RESPONSE);
        byte[] big = large(5000);
        assertEquals(TieredStore.Outcome.WRITTEN, store.put(KEY, UpsertValue.of(big), 1, 0, 1));
        assertEquals(0, store.metrics().conditionConflicts.sum(), "the retry recognised its own write");
        assertArrayEquals(big, value(KEY));
        assertConsistent();
    }

    @Test
    void lostCompareAndWriteResponseWithoutRetriesKeepsTheCommittedObject() throws Exception {
        TieredStore noRetries = newStore("writer-c", faults, 1);
        faults.on("compareAndWrite", 0, Faults.Kind.LOST_RESPONSE);
        byte[] big = large(5000);
        assertThrows(IOException.class, () -> noRetries.put(KEY, UpsertValue.of(big), 1, 0, 1));
        assertArrayEquals(big, value(KEY), "the commit stands and cleanup did not delete its object");
        assertConsistent(noRetries);
    }

    /**
     * A large put over a large value, with the process dying at each storage call of the put or
     * its cleanup (before or after the call takes effect); a restart resolves the stored notes.
     */
    @ParameterizedTest(name = "crash {1} {0} #{2}")
    @CsvSource({
            "read,CRASH_BEFORE,0", "addPending,CRASH_BEFORE,0", "addPending,CRASH_AFTER,0", "write,CRASH_BEFORE,0",
            "write,CRASH_AFTER,0", "compareAndWrite,CRASH_BEFORE,0", "compareAndWrite,CRASH_AFTER,0",
            "read,CRASH_BEFORE,1", "delete,CRASH_BEFORE,0", "delete,CRASH_AFTER,0", "removePending,CRASH_BEFORE,0",
            "write,PERMANENT,0", "compareAndWrite,PERMANENT,0", "delete,PERMANENT,0"})
    void aFailureAtEachStepOfALargePutLeavesNoOrphanAndNoDanglingTombstone(String call, Faults.Kind kind, int skip) throws Exception {
        byte[] before = large(5000);
        byte[] after = large(6000);
        store.put(KEY, UpsertValue.of(before), 1, 0, 1);
        store.drainCleanup();
        faults.on(call, skip, kind);
        try {
            store.put(KEY, UpsertValue.of(after), 2, 0, 2);
            store.drainCleanup();
        } catch (IOException expected) {
            // the put or its cleanup failed; what it left behind is recovered below
        }
        TieredStore restarted = newStore("writer-a", new Faults.Plan(), 4);
        restarted.recoverPendingCleanups(owner -> true);
        byte[] now = restarted.get(KEY).map(e -> e.value().bytes()).orElse(null);
        assertNotNull(now, "the key never reads as absent");
        assertTrue(java.util.Arrays.equals(now, before) || java.util.Arrays.equals(now, after), "old or new value");
        assertConsistent(restarted);
    }

    @Test
    void aDanglingTombstoneReadsAsAbsent() throws Exception {
        store.put(KEY, UpsertValue.of(large(5000)), 1, 0, 1);
        store.drainCleanup();
        longTerm.delete(row(KEY).target());
        assertEquals(Optional.empty(), store.get(KEY));
        assertEquals(0, store.snapshot().size());
        store.put(KEY, UpsertValue.of(small("back")), 2, 0, 2);
        assertArrayEquals(small("back"), value(KEY), "a write over a dangling tombstone works");
        assertConsistent();
    }

    /**
     * Writers race on one key with writes at different times, both sizes and deletes: the key ends
     * holding the write that is last in the key's order {@code (time, partition, offset)}, whatever
     * the interleaving (SPEC 4.6, 4.9).
     */
    @Test
    void concurrentWritersAcrossTimesEndWithTheLatestWrite() throws Exception {
        int writers = 4;
        record Written(long time, int partition, long offset, byte[] value) {}
        List<TieredStore> stores = new ArrayList<>();
        List<Written> written = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < writers; i++) {
            stores.add(newStore("concurrent-" + i, new Faults.Plan(), 4));
        }
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<Void>> done = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                TieredStore s = stores.get(i);
                int w = i;
                done.add(pool.submit((Callable<Void>) () -> {
                    Random r = new Random(w);
                    for (int j = 0; j < 12; j++) {
                        long t = r.nextInt(8);
                        byte[] v = r.nextInt(6) == 0 ? null : r.nextBoolean() ? ("w" + w + "-" + j).getBytes(UTF_8) : large(2000 + r.nextInt(3000));
                        written.add(new Written(t, w, j, v));
                        if (v == null) {
                            s.delete(KEY, t, w, j);
                        } else {
                            s.put(KEY, UpsertValue.of(v), t, w, j);
                        }
                    }
                    return null;
                }));
            }
            for (Future<Void> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        assertConsistent(stores.toArray(new TieredStore[0]));
        Written last = written.stream().max(java.util.Comparator.comparingLong(Written::time).thenComparingInt(Written::partition)
                .thenComparingLong(Written::offset)).orElseThrow();
        assertArrayEquals(last.value(), value(KEY), "the key holds the write last in its order: " + last);
    }

    @Test
    void aReplayedOlderWriteNeverOverwritesANewerOne() throws Exception {
        store.put(KEY, UpsertValue.of(small("v10")), 10, 0, 10);
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(small("v5")), 5, 0, 5));
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(large(5000)), 5, 0, 5));
        assertArrayEquals(small("v10"), value(KEY));
        store.delete(KEY, 12, 0, 12);
        assertEquals(TieredStore.Outcome.STALE, store.put(KEY, UpsertValue.of(small("v11")), 11, 0, 11), "no resurrection");
        assertEquals(Optional.empty(), store.get(KEY));
        store.put(KEY, UpsertValue.of(large(5000)), 20, 0, 20);
        assertEquals(TieredStore.Outcome.STALE, store.delete(KEY, 15, 0, 15));
        assertNotNull(value(KEY));
        assertConsistent();
    }

    @Test
    void replayingASuffixGivesTheSameStore() throws Exception {
        List<Object[]> ops = new ArrayList<>();
        Random r = new Random(7);
        for (int t = 1; t <= 30; t++) {
            byte[] key = ("k" + r.nextInt(4)).getBytes(UTF_8);
            ops.add(new Object[] {key, r.nextInt(5) == 0 ? null : (r.nextBoolean() ? small("v" + t) : large(3000)), (long) t});
        }
        for (Object[] op : ops) {
            apply(op);
        }
        var first = store.snapshot();
        for (Object[] op : ops.subList(12, ops.size())) {
            apply(op);
        }
        var second = store.snapshot();
        assertEquals(first.keySet(), second.keySet());
        first.forEach((k, e) -> assertEquals(e.value(), second.get(k).value(), "value of " + k));
        assertConsistent();
    }

    private void apply(Object[] op) throws IOException {
        byte[] key = (byte[]) op[0];
        long t = (Long) op[2];
        if (op[1] == null) {
            store.delete(key, t, 0, t);
        } else {
            store.put(key, UpsertValue.of((byte[]) op[1]), t, 0, t);
        }
    }

    @Test
    void keysOfAnyLengthUpToTheLimitMapToOneRowAndScanBack() throws Exception {
        byte[] longest = new byte[TieredStore.MAX_KEY_BYTES];
        random.nextBytes(longest);
        byte[] empty = new byte[0];
        store.put(longest, UpsertValue.of(small("long key")), 1, 0, 1);
        store.put(empty, UpsertValue.of(small("empty key")), 1, 0, 2);
        assertArrayEquals(small("long key"), value(longest));
        assertArrayEquals(small("empty key"), value(empty));
        assertEquals(2, store.snapshot().size());
        assertThrows(IllegalArgumentException.class,
                () -> store.put(new byte[TieredStore.MAX_KEY_BYTES + 1], UpsertValue.of(small("x")), 1, 0, 3));
        assertConsistent();
    }

    @Test
    void scanResumesAfterAKey() throws Exception {
        for (int i = 0; i < 10; i++) {
            store.put(("k" + i).getBytes(UTF_8), UpsertValue.of(small("v" + i)), 1, 0, i);
        }
        List<byte[]> order = new ArrayList<>();
        try (CloseableIterator<StoredEntry> it = store.scan(null)) {
            it.forEachRemaining(e -> order.add(e.key()));
        }
        assertEquals(10, order.size());
        try (CloseableIterator<StoredEntry> it = store.scan(order.get(3))) {
            assertArrayEquals(order.get(4), it.next().key());
        }
    }
}
