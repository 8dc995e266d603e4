package io.upsertfeedback.operators;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link HeldTimes} against a plain model: a sorted map per partition from time to (count, lowest
 * offset). Random adds, replaces and pass-wise removals, with times that jump back within a
 * partition and partitions read at different speeds (so runs grow, shift, compact and empty), and
 * an encode/decode round trip at every step.
 */
class HeldTimesTest {
    /** The model: per partition, time -> {count, lowest offset}; per partition, highest seen offset. */
    private final Map<Integer, TreeMap<Long, long[]>> held = new HashMap<>();
    private final Map<Integer, Long> seen = new HashMap<>();

    @Test
    void matchesAPlainModel() {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        HeldTimes times = new HeldTimes();
        long[] nextOffset = new long[4];
        long[] nextTime = new long[4];
        long bound = 0;
        for (int step = 0; step < 20_000; step++) {
            int partition = random.nextInt(random.nextInt(10) == 0 ? 4 : 2);
            long offset = nextOffset[partition]++;
            nextTime[partition] += random.nextInt(3);
            long time = Math.max(bound, nextTime[partition] - (random.nextInt(20) == 0 ? random.nextInt(50) : 0));
            times.noteSeen(partition, offset);
            seen.merge(partition, offset, Math::max);
            TreeMap<Long, long[]> run = held.computeIfAbsent(partition, p -> new TreeMap<>());
            if (run.containsKey(time) && random.nextBoolean()) {
                times.replace(time, partition, offset);
                run.get(time)[1] = Math.min(run.get(time)[1], offset);
            } else {
                times.add(time, partition, offset);
                long[] bucket = run.computeIfAbsent(time, t -> new long[] {0, Long.MAX_VALUE});
                bucket[0]++;
                bucket[1] = Math.min(bucket[1], offset);
            }
            if (random.nextInt(50) == 0) {
                bound += random.nextInt(60);
                assertEquals(removeBelow(bound), times.removeBelow(bound), "seed " + seed);
            }
            assertMatches(times, seed);
            if (step % 997 == 0) {
                HeldTimes restored = new HeldTimes();
                restored.decode(times.encode(), 0, true);
                assertMatches(restored, seed);
            }
        }
        assertEquals(removeBelow(Long.MAX_VALUE), times.removeBelow(Long.MAX_VALUE), "seed " + seed);
        assertMatches(times, seed);
    }

    private long removeBelow(long bound) {
        long removed = 0;
        for (TreeMap<Long, long[]> run : held.values()) {
            Map<Long, long[]> below = run.headMap(bound);
            removed += below.values().stream().mapToLong(bucket -> bucket[0]).sum();
            below.clear();
        }
        return removed;
    }

    private void assertMatches(HeldTimes times, long seed) {
        long size = held.values().stream().flatMap(run -> run.values().stream()).mapToLong(bucket -> bucket[0]).sum();
        assertEquals(size, times.size(), "seed " + seed);
        assertEquals(held.values().stream().mapToInt(TreeMap::size).sum(), times.buckets(), "seed " + seed);
        if (size > 0) {
            long earliest = held.values().stream().filter(run -> !run.isEmpty()).mapToLong(TreeMap::firstKey).min().orElseThrow();
            assertEquals(earliest, times.earliestTime(), "seed " + seed);
        }
        Map<Integer, Long> positions = new HashMap<>();
        seen.forEach((partition, offset) -> {
            TreeMap<Long, long[]> run = held.get(partition);
            long lowestHeld = run == null ? Long.MAX_VALUE : run.values().stream().mapToLong(bucket -> bucket[1]).min().orElse(Long.MAX_VALUE);
            positions.put(partition, lowestHeld != Long.MAX_VALUE ? lowestHeld : offset + 1);
        });
        assertEquals(positions, times.positions(Map.of()), "seed " + seed);
    }
}
