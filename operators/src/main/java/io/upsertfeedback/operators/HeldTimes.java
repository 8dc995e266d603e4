package io.upsertfeedback.operators;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.LongStream;

/**
 * The operator subtask's view of what it holds, sized by the number of distinct held times (a
 * handful: times are coarsened to ticks), never by the number of keys. Per source partition:
 *
 * <ul>
 *   <li>per held (stashed) time: how many of the partition's stash entries sit there and the lowest
 *       offset among them (kept as a lower bound when an entry is replaced: conservative);
 *   <li>the highest offset seen on the command input.
 * </ul>
 *
 * <p>It answers the two questions of the output side: the earliest held time (the output
 * watermark may not pass it) and the source positions of a progress marker (per partition, the
 * lowest held offset, else the highest seen offset + 1).
 *
 * <p><b>Layout, for the hot path.</b> Each partition's held times are a sorted run of buckets in
 * parallel arrays (time, count, lowest offset). A partition is read in offset order and its times
 * rarely go backwards, so {@link #add} almost always hits the run's last bucket or appends one
 * (keeping one run per partition is what makes this true: partitions read at different speeds
 * interleave their times at the operator); an older time is found by binary search and, when new,
 * inserted by shifting the later buckets. Every entry below a drain bound leaves the stash in that
 * drain pass, so entries are never removed one by one: {@link #removeBelow} drops whole buckets
 * from the front of each run. No boxing, no per-entry search or removal, no allocation once the
 * arrays have grown. Partitions are Kafka partitions, small non-negative integers: runs live in an
 * array indexed by partition.
 */
final class HeldTimes {
    private static final long NONE = Long.MIN_VALUE;

    /** One partition's held times, in slots {@code [head, tail)} in ascending time, and its highest seen offset. */
    private static final class Run {
        long[] times = new long[16];
        long[] counts = new long[16];
        long[] minOffsets = new long[16];
        int head;
        int tail;
        long maxSeenOffset = NONE;

        boolean isEmpty() {
            return head == tail;
        }

        /** The slot of the bucket at {@code time}, created (empty) when there is none. */
        int bucket(long time) {
            if (tail > head && times[tail - 1] == time) {
                return tail - 1;
            }
            if (tail == head || times[tail - 1] < time) {
                return insertAt(tail, time);
            }
            int found = Arrays.binarySearch(times, head, tail, time);
            return found >= 0 ? found : insertAt(-found - 1, time);
        }

        private int insertAt(int slot, long time) {
            if (tail == times.length) {
                slot -= compactOrGrow();
            }
            int later = tail - slot;
            System.arraycopy(times, slot, times, slot + 1, later);
            System.arraycopy(counts, slot, counts, slot + 1, later);
            System.arraycopy(minOffsets, slot, minOffsets, slot + 1, later);
            tail++;
            times[slot] = time;
            counts[slot] = 0;
            minOffsets[slot] = Long.MAX_VALUE;
            return slot;
        }

        /** Makes room at the end: moves the buckets to slot 0, or doubles the arrays; returns how far they moved. */
        private int compactOrGrow() {
            int shift = head;
            int live = tail - head;
            int length = live < times.length / 2 ? times.length : 2 * times.length;
            times = move(times, length);
            counts = move(counts, length);
            minOffsets = move(minOffsets, length);
            head = 0;
            tail = live;
            return shift;
        }

        private long[] move(long[] array, int length) {
            long[] target = length == array.length ? array : new long[length];
            System.arraycopy(array, head, target, 0, tail - head);
            return target;
        }

        long removeBelow(long bound) {
            long removed = 0;
            while (head < tail && times[head] < bound) {
                removed += counts[head++];
            }
            if (head == tail) {
                head = 0;
                tail = 0;
            }
            return removed;
        }

        long lowestHeldOffset() {
            long lowest = Long.MAX_VALUE;
            for (int slot = head; slot < tail; slot++) {
                lowest = Math.min(lowest, minOffsets[slot]);
            }
            return lowest;
        }
    }

    private Run[] runs = new Run[0];
    private long size;

    private Run run(int partition) {
        if (partition < 0) {
            throw new IllegalArgumentException("source partitions are non-negative, got " + partition);
        }
        if (partition >= runs.length) {
            int oldLength = runs.length;
            runs = Arrays.copyOf(runs, Math.max(partition + 1, 2 * oldLength));
            for (int p = oldLength; p < runs.length; p++) {
                runs[p] = new Run();
            }
        }
        return runs[partition];
    }

    /** A command was read from the source (whatever happens to it next). */
    void noteSeen(int partition, long offset) {
        Run run = run(partition);
        run.maxSeenOffset = Math.max(run.maxSeenOffset, offset);
    }

    /** A new stash entry at {@code time}. */
    void add(long time, int partition, long offset) {
        Run run = run(partition);
        int slot = run.bucket(time);
        run.counts[slot]++;
        run.minOffsets[slot] = Math.min(run.minOffsets[slot], offset);
        size++;
    }

    /** The stash entry at {@code time} of some key was replaced by a newer command of the same partition. */
    void replace(long time, int partition, long offset) {
        Run run = run(partition);
        int slot = run.bucket(time);
        run.minOffsets[slot] = Math.min(run.minOffsets[slot], offset);
    }

    /**
     * The stash entry at {@code time} from {@code partition} left the stash before its drain pass
     * (replaced by a command of another partition). Its bucket may stay, empty, until the pass
     * that drops it: the earliest time and the positions stay conservative meanwhile.
     */
    void remove(long time, int partition) {
        Run run = run(partition);
        run.counts[run.bucket(time)]--;
        size--;
    }

    /**
     * Every stash entry at a time below {@code bound} left the stash (a drain pass takes them
     * all); returns how many that was.
     */
    long removeBelow(long bound) {
        long removed = 0;
        for (Run run : runs) {
            removed += run.removeBelow(bound);
        }
        size -= removed;
        return removed;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Number of stash entries. */
    long size() {
        return size;
    }

    /** Number of held (partition, time) buckets: the size of this bookkeeping. */
    int buckets() {
        int buckets = 0;
        for (Run run : runs) {
            buckets += run.tail - run.head;
        }
        return buckets;
    }

    /** The earliest held (stored) time; only when not empty. */
    long earliestTime() {
        long earliest = Long.MAX_VALUE;
        for (Run run : runs) {
            if (!run.isEmpty()) {
                earliest = Math.min(earliest, run.times[run.head]);
            }
        }
        return earliest;
    }

    /**
     * The source positions of a progress marker: per partition seen, the lowest held offset, else
     * the highest seen offset + 1; per partition of {@code base} not seen (no command of it reached
     * this subtask yet), its position in {@code base}. A partition in neither is left out: the
     * store keeps a partition as a resume position only where every subtask gives one
     * ({@code PersistFrontier}), since a subtask that saw nothing of it cannot vouch for its keys.
     *
     * @param base the positions the job started from (the store's, read at build time; empty for a new store)
     */
    Map<Integer, Long> positions(Map<Integer, Long> base) {
        Map<Integer, Long> positions = new HashMap<>(base);
        for (int partition = 0; partition < runs.length; partition++) {
            Run run = runs[partition];
            if (!run.isEmpty()) {
                positions.put(partition, run.lowestHeldOffset());
            } else if (run.maxSeenOffset != NONE) {
                positions.put(partition, run.maxSeenOffset + 1);
            }
        }
        return positions;
    }

    /**
     * For the operator's snapshot: {@code [n, (partition, max seen offset) x n, m, (partition,
     * time, count, lowest offset) x m]}.
     */
    long[] encode() {
        LongStream.Builder seen = LongStream.builder();
        LongStream.Builder buckets = LongStream.builder();
        long seenCount = 0;
        for (int partition = 0; partition < runs.length; partition++) {
            Run run = runs[partition];
            if (run.maxSeenOffset != NONE) {
                seen.add(partition).add(run.maxSeenOffset);
                seenCount++;
            }
            for (int slot = run.head; slot < run.tail; slot++) {
                buckets.add(partition).add(run.times[slot]).add(run.counts[slot]).add(run.minOffsets[slot]);
            }
        }
        return LongStream.concat(LongStream.concat(LongStream.of(seenCount), seen.build()),
                LongStream.concat(LongStream.of(buckets()), buckets.build())).toArray();
    }

    /**
     * Reads what {@link #encode} wrote, from {@code data[from]}: merges the seen offsets (maximum,
     * whichever subtask saw them) and, when {@code withBuckets}, adds the held times.
     */
    void decode(long[] data, int from, boolean withBuckets) {
        int i = from;
        long seen = data[i++];
        for (long n = 0; n < seen; n++, i += 2) {
            noteSeen((int) data[i], data[i + 1]);
        }
        if (!withBuckets) {
            return;
        }
        long buckets = data[i++];
        for (long n = 0; n < buckets; n++, i += 4) {
            Run run = run((int) data[i]);
            int slot = run.bucket(data[i + 1]);
            run.counts[slot] += data[i + 2];
            run.minOffsets[slot] = Math.min(run.minOffsets[slot], data[i + 3]);
            size += data[i + 2];
        }
    }
}
