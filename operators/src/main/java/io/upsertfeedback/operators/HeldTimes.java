package io.upsertfeedback.operators;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.LongStream;

/**
 * The operator subtask's view of what it holds, sized by the number of distinct held times (a
 * handful: times are coarsened to ticks), never by the number of keys:
 *
 * <ul>
 *   <li>per held (stashed) time: how many stash entries sit there and, per source partition, the
 *       lowest offset among them (kept as a lower bound when an entry is replaced: conservative);
 *   <li>per source partition: the highest offset seen on the command input.
 * </ul>
 *
 * <p>It answers the two questions of the output side: the earliest held time (the output
 * watermark may not pass it) and the source positions of a progress marker (per partition, the
 * lowest held offset, else the highest seen offset + 1). Partitions are Kafka partitions, small
 * non-negative integers, so per-partition values live in arrays indexed by partition.
 *
 * <p><b>Layout, for the hot path.</b> Held times are a sorted run of buckets in parallel arrays
 * (time, count, lowest offset per partition), from {@code head} to {@code tail}. Commands arrive
 * in about time order, so {@link #add} almost always hits the last bucket or appends one; an older
 * time is found by binary search and, when new, inserted by shifting the few later buckets. Every
 * entry below a drain bound leaves the stash in that drain pass, so entries are never removed one
 * by one: {@link #removeBelow} drops whole buckets from the front. No boxing, no per-entry
 * search, no allocation once the arrays have grown (a bucket slot keeps its offset array).
 */
final class HeldTimes {
    private static final long NONE = Long.MIN_VALUE;

    private long[] times = new long[16];
    private long[] counts = new long[16];
    private long[][] minOffsets = new long[16][];
    /** Buckets live in slots {@code [head, tail)}, in ascending time. */
    private int head;
    private int tail;
    private long[] maxSeenOffsetByPartition = new long[0];
    private long size;

    private static long[] ensure(long[] array, int partition, long fill) {
        if (partition < 0) {
            throw new IllegalArgumentException("source partitions are non-negative, got " + partition);
        }
        if (partition < array.length) {
            return array;
        }
        int oldLength = array.length;
        long[] grown = Arrays.copyOf(array, Math.max(partition + 1, oldLength * 2));
        Arrays.fill(grown, oldLength, grown.length, fill);
        return grown;
    }

    /** A command was read from the source (whatever happens to it next). */
    void noteSeen(int partition, long offset) {
        maxSeenOffsetByPartition = ensure(maxSeenOffsetByPartition, partition, NONE);
        if (offset > maxSeenOffsetByPartition[partition]) {
            maxSeenOffsetByPartition[partition] = offset;
        }
    }

    /** The slot of the bucket at {@code time}, created (empty) when there is none. */
    private int bucket(long time) {
        if (tail > head && times[tail - 1] == time) {
            return tail - 1;
        }
        if (tail == head || times[tail - 1] < time) {
            return insertAt(tail, time);
        }
        int found = Arrays.binarySearch(times, head, tail, time);
        return found >= 0 ? found : insertAt(-found - 1, time);
    }

    /** Opens an empty bucket at {@code time} in slot {@code slot} (shifting later ones); returns its slot. */
    private int insertAt(int slot, long time) {
        if (tail == times.length) {
            slot -= compactOrGrow();
        }
        long[] spare = minOffsets[tail];
        int later = tail - slot;
        System.arraycopy(times, slot, times, slot + 1, later);
        System.arraycopy(counts, slot, counts, slot + 1, later);
        System.arraycopy(minOffsets, slot, minOffsets, slot + 1, later);
        tail++;
        times[slot] = time;
        counts[slot] = 0;
        minOffsets[slot] = spare == null ? new long[maxSeenOffsetByPartition.length] : spare;
        Arrays.fill(minOffsets[slot], Long.MAX_VALUE);
        return slot;
    }

    /** Makes room at the end: moves the buckets to slot 0, or doubles the arrays; returns how far they moved. */
    private int compactOrGrow() {
        int shift = head;
        int live = tail - head;
        if (head > 0 && live < times.length / 2) {
            System.arraycopy(times, head, times, 0, live);
            System.arraycopy(counts, head, counts, 0, live);
            long[][] freed = Arrays.copyOfRange(minOffsets, 0, head);
            System.arraycopy(minOffsets, head, minOffsets, 0, live);
            System.arraycopy(freed, 0, minOffsets, live, head);
        } else {
            times = Arrays.copyOfRange(times, head, head + 2 * times.length);
            counts = Arrays.copyOfRange(counts, head, head + 2 * counts.length);
            minOffsets = Arrays.copyOfRange(minOffsets, head, head + 2 * minOffsets.length);
        }
        head = 0;
        tail = live;
        return shift;
    }

    private void noteOffset(int slot, int partition, long offset) {
        long[] offsets = ensure(minOffsets[slot], partition, Long.MAX_VALUE);
        minOffsets[slot] = offsets;
        if (offset < offsets[partition]) {
            offsets[partition] = offset;
        }
    }

    /** A new stash entry at {@code time}. */
    void add(long time, int partition, long offset) {
        int slot = bucket(time);
        counts[slot]++;
        noteOffset(slot, partition, offset);
        size++;
    }

    /** The stash entry at {@code time} of some key was replaced by a newer command. */
    void replace(long time, int partition, long offset) {
        noteOffset(bucket(time), partition, offset);
    }

    /**
     * Every stash entry at a time below {@code bound} left the stash (a drain pass takes them
     * all); returns how many that was.
     */
    long removeBelow(long bound) {
        long removed = 0;
        while (head < tail && times[head] < bound) {
            removed += counts[head++];
        }
        if (head == tail) {
            head = 0;
            tail = 0;
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

    /** Number of distinct held times. */
    int distinctTimes() {
        return tail - head;
    }

    /** The earliest held (stored) time; only when not empty. */
    long earliestTime() {
        return times[head];
    }

    /** Per partition seen: the lowest held offset, else the highest seen offset + 1. */
    Map<Integer, Long> positions() {
        Map<Integer, Long> positions = new HashMap<>();
        for (int partition = 0; partition < maxSeenOffsetByPartition.length; partition++) {
            if (maxSeenOffsetByPartition[partition] != NONE) {
                positions.put(partition, maxSeenOffsetByPartition[partition] + 1);
            }
        }
        for (int slot = head; slot < tail; slot++) {
            long[] offsets = minOffsets[slot];
            for (int partition = 0; partition < offsets.length; partition++) {
                if (offsets[partition] != Long.MAX_VALUE) {
                    positions.merge(partition, offsets[partition], Math::min);
                }
            }
        }
        return positions;
    }

    /**
     * For the operator's snapshot: {@code [n, (partition, max seen offset) x n, m, (time, count, p,
     * min offset per partition x p) x m]}.
     */
    long[] encode() {
        LongStream.Builder out = LongStream.builder();
        long seen = Arrays.stream(maxSeenOffsetByPartition).filter(offset -> offset != NONE).count();
        out.add(seen);
        for (int partition = 0; partition < maxSeenOffsetByPartition.length; partition++) {
            if (maxSeenOffsetByPartition[partition] != NONE) {
                out.add(partition).add(maxSeenOffsetByPartition[partition]);
            }
        }
        out.add(tail - head);
        for (int slot = head; slot < tail; slot++) {
            out.add(times[slot]).add(counts[slot]).add(minOffsets[slot].length);
            Arrays.stream(minOffsets[slot]).forEach(out);
        }
        return out.build().toArray();
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
        for (long n = 0; n < buckets; n++) {
            int slot = bucket(data[i++]);
            long count = data[i++];
            counts[slot] += count;
            size += count;
            int partitions = (int) data[i++];
            for (int partition = 0; partition < partitions; partition++, i++) {
                noteOffset(slot, partition, data[i]);
            }
        }
    }
}
