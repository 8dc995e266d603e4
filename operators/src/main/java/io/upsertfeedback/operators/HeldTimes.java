package io.upsertfeedback.operators;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
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
 */
final class HeldTimes {
    private static final long NONE = Long.MIN_VALUE;

    /** Entries held at one time. */
    private static final class Bucket {
        long count;
        long[] minOffsetByPartition = new long[0];

        void noteOffset(int partition, long offset) {
            minOffsetByPartition = ensure(minOffsetByPartition, partition, Long.MAX_VALUE);
            if (offset < minOffsetByPartition[partition]) {
                minOffsetByPartition[partition] = offset;
            }
        }
    }

    private final TreeMap<Long, Bucket> byTime = new TreeMap<>();
    private long[] maxSeenOffsetByPartition = new long[0];
    private long size;
    private long lastTime = NONE;
    private Bucket lastBucket;

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

    private Bucket bucket(long time, boolean create) {
        if (time == lastTime && lastBucket != null) {
            return lastBucket;
        }
        Bucket bucket = byTime.get(time);
        if (bucket == null && create) {
            bucket = new Bucket();
            byTime.put(time, bucket);
        }
        lastTime = time;
        lastBucket = bucket;
        return bucket;
    }

    /** A new stash entry at {@code time}. */
    void add(long time, int partition, long offset) {
        Bucket bucket = bucket(time, true);
        bucket.count++;
        bucket.noteOffset(partition, offset);
        size++;
    }

    /** The stash entry at {@code time} of some key was replaced by a newer command. */
    void replace(long time, int partition, long offset) {
        bucket(time, true).noteOffset(partition, offset);
    }

    /** A stash entry at {@code time} left the stash (drained or dropped). */
    void remove(long time) {
        Bucket bucket = bucket(time, false);
        if (bucket == null) {
            throw new IllegalStateException("no held entry at time " + time);
        }
        size--;
        if (--bucket.count == 0) {
            byTime.remove(time);
            lastTime = NONE;
            lastBucket = null;
        }
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
        return byTime.size();
    }

    /** The earliest held (stored) time; only when not empty. */
    long earliestTime() {
        return byTime.firstKey();
    }

    /** Per partition seen: the lowest held offset, else the highest seen offset + 1. */
    Map<Integer, Long> positions() {
        Map<Integer, Long> positions = new HashMap<>();
        for (int partition = 0; partition < maxSeenOffsetByPartition.length; partition++) {
            if (maxSeenOffsetByPartition[partition] != NONE) {
                positions.put(partition, maxSeenOffsetByPartition[partition] + 1);
            }
        }
        for (Bucket bucket : byTime.values()) {
            for (int partition = 0; partition < bucket.minOffsetByPartition.length; partition++) {
                long offset = bucket.minOffsetByPartition[partition];
                if (offset != Long.MAX_VALUE) {
                    positions.merge(partition, offset, Math::min);
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
        out.add(byTime.size());
        for (Map.Entry<Long, Bucket> entry : byTime.entrySet()) {
            long[] minOffsets = entry.getValue().minOffsetByPartition;
            out.add(entry.getKey()).add(entry.getValue().count).add(minOffsets.length);
            Arrays.stream(minOffsets).forEach(out);
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
            Bucket bucket = new Bucket();
            long time = data[i++];
            bucket.count = data[i++];
            bucket.minOffsetByPartition = Arrays.copyOfRange(data, i + 1, i + 1 + (int) data[i]);
            i += 1 + (int) data[i];
            byTime.put(time, bucket);
            size += bucket.count;
        }
    }
}
