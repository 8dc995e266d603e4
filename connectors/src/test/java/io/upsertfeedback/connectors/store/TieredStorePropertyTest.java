package io.upsertfeedback.connectors.store;

import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.bigtable.BigtableHighVolumeTier;
import io.upsertfeedback.connectors.store.gcs.GcsLongTermTier;
import io.upsertfeedback.connectors.store.localdir.LocalDirectoryLongTermTier;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random sequences of puts (both sizes), deletes, replays of older writes, objects lost behind
 * the store's back and crashes at random storage calls, over a few keys, with transient faults and
 * lost responses injected at random calls. After every step, once cleanup has drained: no orphan
 * object, never inline data beside a tombstone, only externally broken tombstones dangle and they
 * read as absent, and the live contents equal a model. The seed is printed on failure; rerun one
 * with {@code -Dproperty.seed=<seed>}.
 */
class TieredStorePropertyTest {
    private static final int RUNS = 4;
    private static final int STEPS = 40;
    private static final String[] METHODS = {"read", "addPending", "write", "compareAndWrite", "delete", "removePending"};

    @TempDir
    Path dir;

    private record Model(byte[] value, String error, long time) {}

    @ParameterizedTest(name = "long-term tier: {0}")
    @ValueSource(strings = {"directory", "gcs"})
    void randomOperationsWithFaultsKeepEveryInvariant(String tier) throws Exception {
        long base = Long.getLong("property.seed", new Random().nextLong());
        int runs = System.getProperty("property.seed") != null ? 1 : RUNS;
        for (int run = 0; run < runs; run++) {
            long seed = base + run;
            try {
                runOnce(seed, tier);
            } catch (Throwable t) {
                throw new AssertionError("property failed with seed " + seed + " on " + tier
                        + " (rerun: -Dproperty.seed=" + seed + ")", t);
            }
        }
    }

    private void runOnce(long seed, String tier) throws Exception {
        Random random = new Random(seed);
        String table = TestBigtable.freshTable("property");
        HighVolumeTier highVolume = new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
        LongTermTier longTerm = tier.equals("gcs")
                ? new GcsLongTermTier(LocalStorageHelper.getOptions().getService(), "bucket", "p-" + UUID.randomUUID(),
                TieredStoreConformanceTest.RANGES, 256 * 1024)
                : new LocalDirectoryLongTermTier(dir.resolve("objects-" + seed), TieredStoreConformanceTest.RANGES);
        List<TieredStore> opened = new ArrayList<>();
        TieredStore checker = open(highVolume, longTerm, new Faults.Plan(), opened);
        Faults.Plan plan = new Faults.Plan().random(random, 0.12);
        TieredStore store = open(highVolume, longTerm, plan, opened);
        Map<String, Model> model = new HashMap<>();
        Set<String> broken = new HashSet<>();
        long time = 0;
        try {
            for (int step = 0; step < STEPS; step++) {
                byte[] key = ("key-" + random.nextInt(3)).getBytes(UTF_8);
                String k = UpsertCommand.keyOf(key);
                Model before = model.get(k);
                int dice = random.nextInt(100);
                if (dice < 6) {
                    // lose the object behind a live tombstone: the key must read as absent
                    RowState s = highVolume.read(key);
                    if (s.isTombstone()) {
                        longTerm.delete(s.target());
                        broken.add(s.target());
                        model.put(k, new Model(null, null, s.time()));
                    }
                } else {
                    boolean replay = dice < 16 && before != null && before.time() > 3;
                    long t = replay ? before.time() - 1 - random.nextInt(3) : ++time;
                    boolean delete = dice >= 16 && dice < 30;
                    UpsertValue value = random.nextInt(5) == 0
                            ? UpsertValue.error(bytes(random, random.nextBoolean()), "decode error " + step)
                            : UpsertValue.of(bytes(random, random.nextBoolean()));
                    boolean crash = random.nextInt(100) < 8;
                    if (crash) {
                        plan.on(METHODS[random.nextInt(METHODS.length)], random.nextInt(2),
                                random.nextBoolean() ? Faults.Kind.CRASH_BEFORE : Faults.Kind.CRASH_AFTER);
                    }
                    Model after = t >= (before == null ? Long.MIN_VALUE : before.time())
                            ? new Model(delete ? null : value.bytes(), delete ? null : value.error(), t) : before;
                    try {
                        TieredStore.Outcome outcome = delete ? store.delete(key, t, 0, step) : store.put(key, value, t, 0, step);
                        assertEquals(after == before ? TieredStore.Outcome.STALE : TieredStore.Outcome.WRITTEN, outcome, "outcome of step " + step);
                        store.drainCleanup();
                        model.put(k, after);
                    } catch (IOException e) {
                        assertTrue(plan.crashed(), "only a crash may fail an operation: " + e);
                        // restart: a new writer resolves the dead one's notes, then the key holds the old or the new value
                        plan = new Faults.Plan().random(random, 0.12);
                        store = open(highVolume, longTerm, plan, opened);
                        store.recoverPendingCleanups(owner -> true);
                        byte[] now = checker.get(key).map(en -> en.value().bytes()).orElse(null);
                        Model actual = java.util.Arrays.equals(now, after.value()) ? after : before;
                        assertTrue(java.util.Arrays.equals(now, actual == null ? null : actual.value()),
                                "after a crash the key holds its old or its new value");
                        model.put(k, actual == null ? new Model(null, null, Long.MIN_VALUE) : actual);
                    }
                }
                Set<String> dangling = StoreInvariants.check(highVolume, longTerm);
                assertTrue(broken.containsAll(dangling), "only externally broken tombstones dangle: " + dangling);
                Map<String, UpsertValue> live = new HashMap<>();
                checker.snapshot().forEach((key2, e) -> live.put(key2, e.value()));
                Map<String, UpsertValue> expected = new HashMap<>();
                model.forEach((key2, m) -> {
                    if (m.value() != null) {
                        expected.put(key2, m.error() == null ? UpsertValue.of(m.value()) : UpsertValue.error(m.value(), m.error()));
                    }
                });
                assertEquals(expected, live, "live contents after step " + step);
            }
        } finally {
            for (TieredStore s : opened) {
                s.close();
            }
            highVolume.close();
            longTerm.close();
        }
    }

    /**
     * Writers race on a few keys at overlapping times (both sizes, deletes), and at random steps a
     * zombie's large put is interrupted right before its commit by a new attempt that recovers
     * every cleanup note (the failover of SPEC 4.10). After every step, once cleanup drained: no
     * pending note, no orphan, no dangling tombstone, every row decodable, and each key holds the
     * write that is last in its order {@code (time, partition, offset)}. Runs on the emulator and
     * in memory.
     */
    @ParameterizedTest(name = "high-volume tier: {0}")
    @ValueSource(strings = {"bigtable", "memory"})
    void racingWritersAndZombieAttemptsKeepEveryInvariant(String backend) throws Exception {
        long base = Long.getLong("property.seed", new Random().nextLong());
        int runs = System.getProperty("property.seed") != null ? 1 : RUNS;
        for (int run = 0; run < runs; run++) {
            long seed = base + run;
            try {
                race(seed, backend);
            } catch (Throwable t) {
                throw new AssertionError("property failed with seed " + seed + " on " + backend
                        + " (rerun: -Dproperty.seed=" + seed + ")", t);
            }
        }
    }

    private record Written(long time, int partition, long offset, byte[] value) {
        boolean laterThan(Written o) {
            return o == null || time != o.time ? o == null || time > o.time
                    : partition != o.partition ? partition > o.partition : offset > o.offset;
        }
    }

    private void race(long seed, String backend) throws Exception {
        Random random = new Random(seed);
        java.util.function.Supplier<HighVolumeTier> view;
        if (backend.equals("memory")) {
            HighVolumeTier shared = new io.upsertfeedback.connectors.store.memory.InMemoryHighVolumeTier("race");
            view = () -> shared;
        } else {
            String table = TestBigtable.freshTable("race");
            view = () -> {
                try {
                    return new BigtableHighVolumeTier(TestBigtable.connection(), table, false);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
        }
        HighVolumeTier checkerTier = view.get();
        LongTermTier longTerm = new io.upsertfeedback.connectors.store.memory.InMemoryLongTermTier();
        List<TieredStore> opened = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.function.IntFunction<TieredStore> store = i -> {
            TieredStore s = new TieredStore(view.get(), new SharedLongTerm(longTerm), TieredStoreConformanceTest.THRESHOLD,
                    new Retrier(12, Duration.ofMillis(1), Duration.ofMillis(2)), 64, "attempt-" + i, null);
            opened.add(s);
            return s;
        };
        TieredStore checker = new TieredStore(checkerTier, new SharedLongTerm(longTerm), TieredStoreConformanceTest.THRESHOLD,
                new Retrier(12, Duration.ofMillis(1), Duration.ofMillis(2)), 64, "checker", null);
        opened.add(checker);
        Map<String, Written> model = new HashMap<>();
        Map<String, byte[]> keys = new HashMap<>();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        long offset = 0;
        try {
            for (int step = 0; step < STEPS; step++) {
                byte[] key = ("key-" + random.nextInt(3)).getBytes(UTF_8);
                String k = UpsertCommand.keyOf(key);
                keys.put(k, key);
                List<java.util.concurrent.Callable<Void>> writes = new ArrayList<>();
                List<Written> thisStep = new ArrayList<>();
                int writers = 1 + random.nextInt(3);
                boolean zombie = random.nextInt(4) == 0;
                for (int w = 0; w < writers; w++) {
                    Written x = new Written(step + random.nextInt(4), random.nextInt(2), ++offset,
                            random.nextInt(5) == 0 ? null : bytes(random, random.nextBoolean() || (zombie && w == 0)));
                    thisStep.add(x);
                    Faults.Plan plan = new Faults.Plan();
                    TieredStore s = store.apply(opened.size());
                    TieredStore writer = zombie && w == 0 ? new TieredStore(Faults.wrap(HighVolumeTier.class, view.get(), plan),
                            new SharedLongTerm(longTerm), TieredStoreConformanceTest.THRESHOLD,
                            new Retrier(12, Duration.ofMillis(1), Duration.ofMillis(2)), 64, "zombie-" + step, null) : s;
                    if (writer != s) {
                        opened.add(writer);
                        // the new attempt recovers every note (the zombie's too) right before the zombie commits
                        plan.before("compareAndWrite", () -> store.apply(opened.size()).recoverPendingCleanups(owner -> true));
                    }
                    writes.add(() -> {
                        if (x.value() == null) {
                            writer.delete(key, x.time(), x.partition(), x.offset());
                        } else {
                            writer.put(key, UpsertValue.of(x.value()), x.time(), x.partition(), x.offset());
                        }
                        return null;
                    });
                }
                for (java.util.concurrent.Future<Void> f : pool.invokeAll(writes)) {
                    f.get();
                }
                for (Written x : thisStep) {
                    if (x.laterThan(model.get(k))) {
                        model.put(k, x);
                    }
                }
                for (TieredStore s : List.copyOf(opened)) {
                    s.drainCleanup();
                }
                assertEquals(Set.of(), StoreInvariants.check(checkerTier, longTerm), "dangling tombstones after step " + step);
                for (Map.Entry<String, Written> e : model.entrySet()) {
                    byte[] now = checker.get(keys.get(e.getKey())).map(en -> en.value().bytes()).orElse(null);
                    assertTrue(java.util.Arrays.equals(e.getValue().value(), now),
                            "key " + e.getKey() + " holds the latest write " + e.getValue() + " after step " + step);
                }
            }
        } finally {
            pool.shutdownNow();
            for (TieredStore s : List.copyOf(opened)) {
                s.close();
            }
            longTerm.close();
        }
    }

    private static TieredStore open(HighVolumeTier hv, LongTermTier lt, Faults.Plan plan, List<TieredStore> opened) throws IOException {
        TieredStore s = new TieredStore(Faults.wrap(HighVolumeTier.class, new BigtableHighVolumeTier(TestBigtable.connection(),
                ((BigtableHighVolumeTier) hv).tableName().getNameAsString(), false), plan),
                Faults.wrap(LongTermTier.class, new SharedLongTerm(lt), plan), TieredStoreConformanceTest.THRESHOLD,
                new Retrier(12, Duration.ofMillis(1), Duration.ofMillis(2)), 64, "writer-" + opened.size(), null);
        opened.add(s);
        return s;
    }

    private static byte[] bytes(Random random, boolean large) {
        byte[] b = new byte[large ? 1500 + random.nextInt(12_000) : 1 + random.nextInt(200)];
        random.nextBytes(b);
        return b;
    }
}
