package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.ValueCodec;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
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
 * bytes are held. The bytes are an estimate of the heap held, object overhead included: each key
 * counts its bytes plus {@link #KEY_OVERHEAD}, each value it holds its bytes plus
 * {@link #VALUE_OVERHEAD}. (Counting only key and value bytes let a subtask of the reference
 * benchmark hold 100,000 keys of 100-byte values as 11 MB, a third or less of their heap, so the
 * key limit was reached first and, in the middle of a backlog, every update of a key not held
 * wrote the eldest key out; the byte limit is the one that bounds the heap.) Keys come out in the order they were first held, which is
 * also the order of the processing time they were first held at ({@link #takeEldest}'s
 * {@code heldAtOrBefore}: the sink's catch-up hold). Not thread-safe: the sink's task thread owns it.
 *
 * <p><b>Checkpointed.</b> {@link #snapshot} writes everything held, in order, so that a sink
 * checkpoint can keep held keys instead of writing them; {@link #restore} reads it back (a key's
 * hold then restarts at the restore time). The format (versioned by {@link WriterState}'s serializer): a count, then
 * per key: key bytes, first time, order key, whether it touches a tombstone, initial value
 * ({@link ValueCodec}), and its non-zero diffs (value, count).
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

    /**
     * A key as a map key: its bytes with the mixed hash its updates carry ({@link Update#keyHash()},
     * computed once per key by the operator, so a lookup does not read the key's bytes), and ordered, so that a bucket of colliding
     * keys is a balanced tree. {@code ByteBuffer} keys hash as the plain polynomial over the bytes,
     * which zero-padded numbered keys ({@code k0123456}) collide under, and are not comparable, so
     * a treeified bucket was searched through: a fifth of the task thread on the 24-hour backlog.
     * A lookup takes a bare {@code HeldKey}; the map's keys are the {@link Held} entries themselves,
     * so a hit reads one object, not a key object and then its entry.
     */
    private static class HeldKey implements Comparable<HeldKey> {
        final byte[] key;
        final int hash;

        /** @param hash {@link Update#keyHash(byte[])} of {@code key} */
        HeldKey(byte[] key, int hash) {
            this.key = key;
            this.hash = hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof HeldKey k && hash == k.hash && Arrays.equals(key, k.key);
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public int compareTo(HeldKey other) {
            return Arrays.compare(key, other.key);
        }
    }

    private static final class Held extends HeldKey {
        final long minTime;
        /** Processing time (ms) at which the key was first held. */
        final long heldSince;
        /**
         * The non-zero sums of diffs per value, in the order the values came: {@code values[i]} at
         * {@code counts[i]} for {@code i < n}. A key's held updates touch a handful of values, so a
         * scan (identity first: a retraction usually carries the very object its insert did) beats
         * a hash map, which hashed every 100-byte value on every update.
         */
        UpsertValue[] values = new UpsertValue[2];
        int[] counts = new int[2];
        int n;
        long time = Long.MIN_VALUE;
        int partition = Integer.MIN_VALUE;
        long offset = Long.MIN_VALUE;
        long bytes;
        boolean touchesTombstone;
        /** The key's state before its first held update: the value that update retracts, or absent. */
        final UpsertValue initial;

        Held(byte[] key, int hash, long minTime, long heldSince, UpsertValue initial) {
            super(key, hash);
            this.minTime = minTime;
            this.heldSince = heldSince;
            this.initial = initial;
        }

        /** Adds one update; returns the bytes it added to what is held (positive: its value is new to the sum). */
        long add(Update u) {
            long added = 0;
            int i = indexOf(u.value());
            if (i == n) {
                addDiff(u.value(), u.diff());
                added += heapOf(u.value());
            } else if ((counts[i] += u.diff()) == 0) {
                System.arraycopy(values, i + 1, values, i, n - i - 1);
                System.arraycopy(counts, i + 1, counts, i, n - i - 1);
                values[--n] = null;
                added -= heapOf(u.value());
            }
            if (u.time() > time || (u.time() == time && (u.partition() > partition || (u.partition() == partition && u.offset() > offset)))) {
                time = u.time();
                partition = u.partition();
                offset = u.offset();
            }
            bytes += added;
            return added;
        }

        /** The index of {@code value} among the diffs, {@code n} when absent. */
        private int indexOf(UpsertValue value) {
            for (int i = 0; i < n; i++) {
                if (values[i] == value) {
                    return i;
                }
            }
            for (int i = 0; i < n; i++) {
                if (values[i].equals(value)) {
                    return i;
                }
            }
            return n;
        }

        /** Appends a value absent from the diffs. */
        private void addDiff(UpsertValue value, int count) {
            if (n == values.length) {
                values = Arrays.copyOf(values, 2 * n);
                counts = Arrays.copyOf(counts, 2 * n);
            }
            values[n] = value;
            counts[n++] = count;
        }

        /** The net write: the value left at {@code +1}, a delete, or the initial state when the diffs cancel out. */
        Consolidated result() {
            UpsertValue added = null;
            boolean removed = false;
            for (int i = 0; i < n; i++) {
                if (counts[i] > 0) {
                    added = values[i];
                } else if (counts[i] < 0) {
                    removed = true;
                }
            }
            UpsertValue value = added != null || removed ? added : initial;
            return new Consolidated(key, time, value, partition, offset, touchesTombstone);
        }
    }

    /*
     * Estimated heap of a held key beyond its bytes, on a 64-bit JVM with compressed pointers: its
     * Held (about 96 bytes) with its two arrays (48), its map entry and table slot (about 50), the
     * key array's header (16), and its first time's entry in minTimes (up to about 50).
     */
    static final int KEY_OVERHEAD = 256;
    /** Estimated heap of a held value beyond its bytes: the UpsertValue (24) and its array's header (16). */
    static final int VALUE_OVERHEAD = 40;

    private final int maxKeys;
    private final long maxBytes;
    private final Predicate<UpsertValue> storedAsTombstone;
    private final LinkedHashMap<HeldKey, Held> held = new LinkedHashMap<>();
    /** Multiset of the held keys' first times: the least is {@link #minHeldTime}. */
    private final TreeMap<Long, Integer> minTimes = new TreeMap<>();
    private long bytes;
    /**
     * The key of the last {@link #add}, while held: the operator emits a key's retraction and
     * insert one after the other, with the same key array, so the second needs no map lookup (each
     * lookup is a cache miss or two on a map of 100,000 keys: the sink's hottest line in JFR
     * profiles of the 24-hour backlog).
     */
    private Held last;

    /** @param storedAsTombstone whether the store keeps a value in the long-term tier behind a tombstone */
    Consolidator(int maxKeys, long maxBytes, Predicate<UpsertValue> storedAsTombstone) {
        if (maxKeys < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("consolidation limits must be at least 1, were " + maxKeys + " keys, " + maxBytes + " bytes");
        }
        this.maxKeys = maxKeys;
        this.maxBytes = maxBytes;
        this.storedAsTombstone = storedAsTombstone;
    }

    /** Holds one data update, received at processing time {@code now} (ms). */
    void add(Update update, long now) {
        Held h = last != null && last.key == update.key() ? last : null;
        if (h == null) {
            h = held.get(new HeldKey(update.key(), update.keyHash()));
            if (h == null) {
                h = hold(new Held(update.key(), update.keyHash(), update.time(), now, update.diff() < 0 ? update.value() : null));
            }
            last = h;
        }
        long added = h.add(update);
        bytes += added;
        if (added > 0) { // a value new to the key's sum; one already in it was tested when it came
            h.touchesTombstone |= storedAsTombstone.test(update.value());
        }
    }

    private Held hold(Held h) {
        held.put(h, h);
        minTimes.merge(h.minTime, 1, Integer::sum);
        bytes += KEY_OVERHEAD + h.key.length;
        return h;
    }

    /** Whether more keys or bytes are held than allowed: the caller writes the eldest out. */
    boolean overCapacity() {
        return held.size() > maxKeys || bytes > maxBytes;
    }

    /**
     * Takes the eldest held key if its first time is at or below {@code bound} and it was first
     * held at or before processing time {@code heldAtOrBefore} (ms; {@code Long.MAX_VALUE}: whenever).
     *
     * @return whether a key was taken; its net write went to {@code out}
     */
    boolean takeEldest(long bound, long heldAtOrBefore, WriteOut out) throws IOException, InterruptedException {
        Iterator<Held> it = held.values().iterator();
        if (!it.hasNext()) {
            return false;
        }
        Held h = it.next();
        if (h.minTime > bound || h.heldSince > heldAtOrBefore) {
            return false;
        }
        it.remove();
        if (h == last) {
            last = null;
        }
        minTimes.computeIfPresent(h.minTime, (t, n) -> n == 1 ? null : n - 1);
        bytes -= KEY_OVERHEAD + h.key.length + h.bytes;
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

    /** Everything held, in order (see the class comment for the format); empty when nothing is held. */
    byte[] snapshot() throws IOException {
        if (held.isEmpty()) {
            return new byte[0];
        }
        DataOutputSerializer out = new DataOutputSerializer((int) Math.min(Integer.MAX_VALUE - 64, 64 + bytes)); // the heap estimate exceeds the format's size
        out.writeInt(held.size());
        for (Held h : held.values()) {
            ValueCodec.writeBytes(h.key, out);
            out.writeLong(h.minTime);
            out.writeLong(h.time);
            out.writeInt(h.partition);
            out.writeLong(h.offset);
            out.writeBoolean(h.touchesTombstone);
            ValueCodec.writeValue(h.initial, out);
            out.writeInt(h.n);
            for (int i = 0; i < h.n; i++) {
                ValueCodec.writeValue(h.values[i], out);
                out.writeInt(h.counts[i]);
            }
        }
        return out.getCopyOfBuffer();
    }

    /**
     * Holds again what {@link #snapshot} wrote, after what is held now, as first held at processing
     * time {@code now} (ms). Called before any update is added; several snapshots (a rescale hands
     * a subtask those of others) hold disjoint keys, as each key has one subtask.
     *
     * @throws IOException when {@code snapshot} is not in this format, or holds a key already held
     */
    void restore(byte[] snapshot, long now) throws IOException {
        if (snapshot.length == 0) {
            return;
        }
        DataInputDeserializer in = new DataInputDeserializer(snapshot);
        for (int n = in.readInt(); n > 0; n--) {
            byte[] key = ValueCodec.readBytes(in);
            long minTime = in.readLong();
            long time = in.readLong();
            int partition = in.readInt();
            long offset = in.readLong();
            boolean touchesTombstone = in.readBoolean();
            Held h = new Held(key, Update.keyHash(key), minTime, now, ValueCodec.readValue(in));
            if (held.containsKey(h)) {
                throw new IOException("the restored consolidation state holds a key twice");
            }
            h.time = time;
            h.partition = partition;
            h.offset = offset;
            h.touchesTombstone = touchesTombstone;
            for (int d = in.readInt(); d > 0; d--) {
                UpsertValue value = ValueCodec.readValue(in);
                int count = in.readInt();
                if (h.indexOf(value) < h.n || count == 0) {
                    throw new IOException("the restored consolidation state holds a value twice, or a zero count");
                }
                h.addDiff(value, count);
                h.bytes += heapOf(value);
            }
            hold(h);
            bytes += h.bytes;
        }
        if (in.available() > 0) {
            throw new IOException("the restored consolidation state has " + in.available() + " bytes after its last key");
        }
    }

    /** The estimated heap held (see the class comment), in bytes. */
    long bytes() {
        return bytes;
    }

    private static long heapOf(UpsertValue value) {
        return VALUE_OVERHEAD + value.bytes().length;
    }
}
