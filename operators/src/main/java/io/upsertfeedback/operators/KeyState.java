package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.ValueCodec;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Everything the operator keeps for one key, in one keyed {@code ValueState} so the common path
 * costs one state read and one state write per command: the <b>applied</b> prior value (absent =
 * {@code null}) with the order key {@code (t, partition, offset)} of the command that wrote it
 * (SPEC section 2), the key's last time per source partition it was read from (the time rule's
 * "key's previous t in that partition"), and the <b>stash</b>: the pending commands of the key, one
 * per (effective) time, in ascending time order.
 *
 * <p>A stash entry keeps two times: {@code time}, when it drains (never behind the state frontier
 * at its arrival), and {@code orderTime}, its {@code t} in the order key, which decides which of
 * two commands wins. A later time always has a higher order key (an entry is stashed at
 * {@code max(t, open time)}), so within the stash and against the applied value, time order and
 * order-key order agree. Internal to the operator.
 */
public final class KeyState {
    /** A stashed command: its drain time, its order key {@code (orderTime, partition, offset)} and value ({@code null} = delete). */
    record Pending(long time, long orderTime, int partition, long offset, UpsertValue value) {
        int compareOrder(long otherTime, int otherPartition, long otherOffset) {
            return KeyState.compareOrder(orderTime, partition, offset, otherTime, otherPartition, otherOffset);
        }
    }

    private static final int[] NO_PARTITIONS = new int[0];
    private static final long[] NO_TIMES = new long[0];

    UpsertValue value;
    long appliedTime = Long.MIN_VALUE;
    int appliedPartition = Integer.MIN_VALUE;
    long appliedOffset = Long.MIN_VALUE;
    /**
     * The time the key's last applied command drained at (its updates' time; a rehydrated value's
     * stored time): the key's next command never drains below it, so the key's updates never go
     * back in time (SPEC 3, invariant 6), also when a restore merged subtasks whose state frontiers
     * differed (each subtask's input goes idle on its own).
     */
    long drainedTime = Long.MIN_VALUE;
    /** Per source partition the key was read from: its last order time there (parallel arrays, usually one entry). */
    int[] partitions = NO_PARTITIONS;
    long[] partitionTimes = NO_TIMES;
    final List<Pending> stash;

    KeyState() {
        this.stash = new ArrayList<>(2);
    }

    private KeyState(int stashCapacity) {
        this.stash = new ArrayList<>(stashCapacity);
    }

    /** Orders order keys (SPEC section 2): time, then partition, then offset. */
    static int compareOrder(long time, int partition, long offset, long otherTime, int otherPartition, long otherOffset) {
        int c = Long.compare(time, otherTime);
        if (c != 0) {
            return c;
        }
        c = Integer.compare(partition, otherPartition);
        return c != 0 ? c : Long.compare(offset, otherOffset);
    }

    /** Is {@code (time, partition, offset)} newer than the applied value's order key? */
    boolean isNewerThanApplied(long time, int partition, long offset) {
        return compareOrder(time, partition, offset, appliedTime, appliedPartition, appliedOffset) > 0;
    }

    /** The key's last order time in {@code partition}, or {@code Long.MIN_VALUE}. */
    long lastTimeIn(int partition) {
        for (int i = 0; i < partitions.length; i++) {
            if (partitions[i] == partition) {
                return partitionTimes[i];
            }
        }
        return Long.MIN_VALUE;
    }

    /** Records that the key got a command (or a stored value) at order time {@code time} from {@code partition}. */
    void noteTime(int partition, long time) {
        for (int i = 0; i < partitions.length; i++) {
            if (partitions[i] == partition) {
                partitionTimes[i] = Math.max(partitionTimes[i], time);
                return;
            }
        }
        partitions = Arrays.copyOf(partitions, partitions.length + 1);
        partitionTimes = Arrays.copyOf(partitionTimes, partitionTimes.length + 1);
        partitions[partitions.length - 1] = partition;
        partitionTimes[partitionTimes.length - 1] = time;
    }

    /**
     * Stashes {@code pending} at its time: a new entry in time order, or, when an entry holds that
     * time, the one of the two with the higher order key. Returns the entry that lost (superseded),
     * {@code pending} itself when it lost, or {@code null} when nothing was displaced.
     */
    Pending stash(Pending pending) {
        int slot = stash.size();
        while (slot > 0 && stash.get(slot - 1).time() > pending.time()) {
            slot--;
        }
        if (slot > 0 && stash.get(slot - 1).time() == pending.time()) {
            Pending existing = stash.get(slot - 1);
            if (pending.compareOrder(existing.orderTime(), existing.partition(), existing.offset()) <= 0) {
                return pending;
            }
            stash.set(slot - 1, pending);
            return existing;
        }
        stash.add(slot, pending);
        return null;
    }

    /** {@code newValue}, with order key {@code (time, partition, offset)}, drained at {@code at}, is the key's applied value. */
    void setApplied(UpsertValue newValue, long time, int partition, long offset, long at) {
        value = newValue;
        appliedTime = time;
        appliedPartition = partition;
        appliedOffset = offset;
        drainedTime = Math.max(drainedTime, at);
    }

    /**
     * Nothing applied and nothing stashed: the state can be cleared. A deleted key is not empty: it
     * keeps the delete's order key and its partition times, so that a put older than the delete,
     * from a partition that was behind while the input was idle, is dropped as superseded (SPEC 2).
     */
    boolean isEmpty() {
        return value == null && stash.isEmpty() && appliedTime == Long.MIN_VALUE;
    }

    /**
     * Serializer of {@link KeyState}: value, applied order key, drained time, partition times, then
     * the stash entries. Layout 2 is current; layout 1 (before {@link #drainedTime}) is still read
     * from older savepoints, which Flink migrates to layout 2 on restore ({@link Snapshot}).
     */
    public static final class Serializer extends TypeSerializer<KeyState> {
        private static final long serialVersionUID = 1L;
        /** The current layout. */
        static final int LAYOUT = 2;
        public static final Serializer INSTANCE = new Serializer(LAYOUT);
        /** Layout 1: no drained time; read as {@code Long.MIN_VALUE} (no floor). */
        static final Serializer LAYOUT_1 = new Serializer(1);

        private final int layout;

        private Serializer(int layout) {
            this.layout = layout;
        }

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public TypeSerializer<KeyState> duplicate() {
            return this;
        }

        @Override
        public KeyState createInstance() {
            return new KeyState();
        }

        /** Deep enough: the pending entries and values are immutable, the list is not. */
        @Override
        public KeyState copy(KeyState from) {
            KeyState copy = new KeyState(from.stash.size() + 1);
            copy.setApplied(from.value, from.appliedTime, from.appliedPartition, from.appliedOffset, from.drainedTime);
            copy.partitions = from.partitions.clone();
            copy.partitionTimes = from.partitionTimes.clone();
            copy.stash.addAll(from.stash);
            return copy;
        }

        @Override
        public KeyState copy(KeyState from, KeyState reuse) {
            return copy(from);
        }

        @Override
        public int getLength() {
            return -1;
        }

        @Override
        public void serialize(KeyState state, DataOutputView out) throws IOException {
            ValueCodec.writeValue(state.value, out);
            out.writeLong(state.appliedTime);
            out.writeInt(state.appliedPartition);
            out.writeLong(state.appliedOffset);
            if (layout >= 2) {
                out.writeLong(state.drainedTime);
            }
            out.writeInt(state.partitions.length);
            for (int i = 0; i < state.partitions.length; i++) {
                out.writeInt(state.partitions[i]);
                out.writeLong(state.partitionTimes[i]);
            }
            out.writeInt(state.stash.size());
            for (Pending pending : state.stash) {
                out.writeLong(pending.time());
                out.writeLong(pending.orderTime());
                out.writeInt(pending.partition());
                out.writeLong(pending.offset());
                ValueCodec.writeValue(pending.value(), out);
            }
        }

        @Override
        public KeyState deserialize(DataInputView in) throws IOException {
            UpsertValue value = ValueCodec.readValue(in);
            long time = in.readLong();
            int partition = in.readInt();
            long offset = in.readLong();
            long drainedTime = layout >= 2 ? in.readLong() : Long.MIN_VALUE;
            int partitions = in.readInt();
            int[] partitionIds = new int[partitions];
            long[] partitionTimes = new long[partitions];
            for (int i = 0; i < partitions; i++) {
                partitionIds[i] = in.readInt();
                partitionTimes[i] = in.readLong();
            }
            int size = in.readInt();
            KeyState state = new KeyState(size + 1);
            state.setApplied(value, time, partition, offset, drainedTime);
            state.partitions = partitionIds;
            state.partitionTimes = partitionTimes;
            for (int i = 0; i < size; i++) {
                state.stash.add(new Pending(in.readLong(), in.readLong(), in.readInt(), in.readLong(), ValueCodec.readValue(in)));
            }
            return state;
        }

        @Override
        public KeyState deserialize(KeyState reuse, DataInputView in) throws IOException {
            return deserialize(in);
        }

        @Override
        public void copy(DataInputView in, DataOutputView out) throws IOException {
            serialize(deserialize(in), out);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Serializer other && other.layout == layout;
        }

        @Override
        public int hashCode() {
            return layout;
        }

        @Override
        public TypeSerializerSnapshot<KeyState> snapshotConfiguration() {
            return new Snapshot(layout);
        }

        /**
         * Serializer snapshot (Flink instantiates it reflectively): the layout. Version 3 is what
         * Flink's {@code SimpleTypeSerializerSnapshot} wrote for this class before layouts existed
         * (no payload): layout 1. Version 4 writes the layout. A snapshot of an older layout resolves
         * as "compatible after migration": Flink reads the state with {@link #restoreSerializer} and
         * rewrites it with the current serializer.
         */
        public static final class Snapshot implements TypeSerializerSnapshot<KeyState> {
            private static final int VERSION_WITHOUT_LAYOUT = 3;
            private static final int VERSION = 4;
            private int layout;

            public Snapshot() {
                this(LAYOUT);
            }

            Snapshot(int layout) {
                this.layout = layout;
            }

            @Override
            public int getCurrentVersion() {
                return VERSION;
            }

            @Override
            public void writeSnapshot(DataOutputView out) throws IOException {
                out.writeInt(layout);
            }

            @Override
            public void readSnapshot(int readVersion, DataInputView in, ClassLoader userCodeClassLoader) throws IOException {
                if (readVersion == VERSION_WITHOUT_LAYOUT) {
                    layout = 1;
                } else if (readVersion == VERSION) {
                    layout = in.readInt();
                } else {
                    throw new IOException("unknown snapshot version " + readVersion + " of the operator's key state serializer");
                }
                if (layout < 1 || layout > LAYOUT) {
                    throw new IOException("key state layout " + layout + " is newer than this build reads (" + LAYOUT
                            + "): restore it with the version of the job that wrote it");
                }
            }

            @Override
            public TypeSerializer<KeyState> restoreSerializer() {
                return layout == LAYOUT ? INSTANCE : LAYOUT_1;
            }

            @Override
            public TypeSerializerSchemaCompatibility<KeyState> resolveSchemaCompatibility(TypeSerializerSnapshot<KeyState> old) {
                if (!(old instanceof Snapshot previous)) {
                    return TypeSerializerSchemaCompatibility.incompatible();
                }
                return previous.layout == layout ? TypeSerializerSchemaCompatibility.compatibleAsIs()
                        : TypeSerializerSchemaCompatibility.compatibleAfterMigration();
            }
        }
    }
}
