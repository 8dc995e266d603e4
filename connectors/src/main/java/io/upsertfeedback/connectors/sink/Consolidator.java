package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Holds the operator's data updates per key until they are written, as one net write per key.
 *
 * <p><b>Rule.</b> A key's held updates, at one time or many, consolidate to the sum of their diffs
 * per value, whatever the order they arrived in: the value left at {@code +1} is the key's new
 * value (a put); only a {@code -1} left is a delete. Nothing left (a {@code +a} cancelled by a
 * {@code -a}, as a rehydration that retimes two replayed commands of one key emits, or
 * {@code a -> b -> a}) means the key ends as it started: the state before its first held update
 * (the value that update retracts; absent when it inserts) is written again. Writing nothing would
 * be wrong after a restore, where the store may already hold {@code b} from the failed attempt.
 * The write carries the latest order key {@code (time, partition, offset)} of the updates it sums
 * (SPEC section 2), so it is the row's newest version whatever an earlier attempt wrote. Writing only the sum is right for the store, which holds one value per key (SPEC
 * section 4): the versions in between are never the newest at any frontier the sink publishes,
 * because a frontier is published only once nothing below it is held ({@link #minHeldTime}).
 *
 * <p><b>Why hold across times.</b> While storage keeps up, the sink writes a key as soon as the
 * watermark passes it and little is held. While storage is the bottleneck (a backlog: SPEC 3.12),
 * what waits here keeps absorbing later updates of the same keys, so the store writes each key
 * about once per round of the window instead of once per tick it changed in.
 *
 * <p><b>Bounded.</b> {@link #overCapacity} tells the caller to write the eldest key out (and block
 * while storage is busy: backpressure) when more than {@code maxKeys} keys or {@code maxBytes}
 * bytes of keys and values are held. Keys come out in the order they were first held. Not
 * thread-safe: the sink's task thread owns it.
 */
final class Consolidator {

    /**
     * The net write of one key's held updates.
     *
     * @param time the latest time among them (with {@code partition} and {@code offset}, the write's order key)
     * @param value the new value; {@code null} for a delete
     * @param touchesTombstone whether any value of the summed updates, added or retracted, is
     *                         stored behind a tombstone: the row may then hold one (also one an
     *                         earlier attempt wrote for a time in between), so the write must take
     *                         the conditional path that cleans up its object
     */
    record Consolidated(byte[] key, long time, UpsertValue value, int partition, long offset, boolean touchesTombstone) {}

    /** Where a taken key's net write goes. */
    @FunctionalInterface
    interface WriteOut {
        void write(Consolidated c) throws IOException, InterruptedException;
    }

    private static final class Held {
        final byte[] key;
        final long minTime;
        final Map<UpsertValue, Integer> diffs = new LinkedHashMap<>(4);
        long time = Long.MIN_VALUE;
        int partition = Integer.MIN_VALUE;
        long offset = Long.MIN_VALUE;
        long bytes;
        boolean touchesTombstone;
        /** The key's state before its first held update: the value that update retracts, or absent. */
        final UpsertValue initial;

        Held(Update first) {
            this.key = first.key();
            this.minTime = first.time();
            this.initial = first.diff() < 0 ? first.value() : null;
        }

        /** Adds one update; returns the bytes it added to what is held. */
        long add(Update u) {
            long added = 0;
            Integer sum = diffs.merge(u.value(), u.diff(), Integer::sum);
            if (sum == 0) {
                diffs.remove(u.value());
                added -= u.value().bytes().length;
            } else if (sum == u.diff()) {
                added += u.value().bytes().length;
            }
            if (u.time() > time || (u.time() == time && (u.partition() > partition || (u.partition() == partition && u.offset() > offset)))) {
                time = u.time();
                partition = u.partition();
                offset = u.offset();
            }
            bytes += added;
            return added;
        }

        /** The net write: the value left at {@code +1}, a delete, or the initial state when the diffs cancel out. */
        Consolidated result() {
            UpsertValue added = null;
            boolean removed = false;
            for (Map.Entry<UpsertValue, Integer> e : diffs.entrySet()) {
                if (e.getValue() > 0) {
                    added = e.getKey();
                } else if (e.getValue() < 0) {
                    removed = true;
                }
            }
            UpsertValue value = added != null || removed ? added : initial;
            return new Consolidated(key, time, value, partition, offset, touchesTombstone);
        }
    }

    private final int maxKeys;
    private final long maxBytes;
    private final Predicate<UpsertValue> storedAsTombstone;
    private final LinkedHashMap<ByteBuffer, Held> held = new LinkedHashMap<>();
    /** Multiset of the held keys' first times: the least is {@link #minHeldTime}. */
    private final TreeMap<Long, Integer> minTimes = new TreeMap<>();
    private long bytes;

    /** @param storedAsTombstone whether the store keeps a value in the long-term tier behind a tombstone */
    Consolidator(int maxKeys, long maxBytes, Predicate<UpsertValue> storedAsTombstone) {
        if (maxKeys < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("consolidation limits must be at least 1, were " + maxKeys + " keys, " + maxBytes + " bytes");
        }
        this.maxKeys = maxKeys;
        this.maxBytes = maxBytes;
        this.storedAsTombstone = storedAsTombstone;
    }

    /** Holds one data update. */
    void add(Update update) {
        Held h = held.get(ByteBuffer.wrap(update.key()));
        if (h == null) {
            h = new Held(update);
            held.put(ByteBuffer.wrap(update.key()), h);
            minTimes.merge(h.minTime, 1, Integer::sum);
            bytes += update.key().length;
        }
        bytes += h.add(update);
        h.touchesTombstone |= storedAsTombstone.test(update.value());
    }

    /** Whether more keys or bytes are held than allowed: the caller writes the eldest out. */
    boolean overCapacity() {
        return held.size() > maxKeys || bytes > maxBytes;
    }

    /**
     * Takes the eldest held key if its first time is at or below {@code bound}.
     *
     * @return whether a key was taken; its net write went to {@code out}
     */
    boolean takeEldest(long bound, WriteOut out) throws IOException, InterruptedException {
        Iterator<Held> it = held.values().iterator();
        if (!it.hasNext()) {
            return false;
        }
        Held h = it.next();
        if (h.minTime > bound) {
            return false;
        }
        it.remove();
        minTimes.computeIfPresent(h.minTime, (t, n) -> n == 1 ? null : n - 1);
        bytes -= h.key.length + h.bytes;
        out.write(h.result());
        return true;
    }

    /** The least first time of the held keys; {@code Long.MAX_VALUE} when none is held. */
    long minHeldTime() {
        return minTimes.isEmpty() ? Long.MAX_VALUE : minTimes.firstKey();
    }

    int size() {
        return held.size();
    }

    long bytes() {
        return bytes;
    }
}
