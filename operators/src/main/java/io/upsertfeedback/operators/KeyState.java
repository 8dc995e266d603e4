package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.ValueCodec;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything the operator keeps for one key, in one keyed {@code ValueState} so the common path
 * costs one state read and one state write per command: the <b>applied</b> prior value (absent =
 * {@code null}) with the order key and time of the command that wrote it, and the <b>stash</b>: the
 * pending commands of the key, one per time, in ascending time order.
 *
 * <p>Every accepted command has a higher order key than everything the key holds and a time no
 * earlier than the key's last time (the operator retimes it), so the stash only ever grows at its
 * end: replace the last entry (same time, higher order key wins) or append. Internal to the operator.
 */
public final class KeyState {
    /** A stashed command: its (possibly retimed) time, order key and value ({@code null} = delete). */
    record Pending(long time, int partition, long offset, UpsertValue value) {
    }

    UpsertValue value;
    int appliedPartition = Integer.MIN_VALUE;
    long appliedOffset = Long.MIN_VALUE;
    long appliedTime = Long.MIN_VALUE;
    final List<Pending> stash;

    KeyState() {
        this.stash = new ArrayList<>(2);
    }

    private KeyState(int stashCapacity) {
        this.stash = new ArrayList<>(stashCapacity);
    }

    /** Orders order keys: partition, then offset. */
    static int compareOrder(int partition, long offset, int otherPartition, long otherOffset) {
        int c = Integer.compare(partition, otherPartition);
        return c != 0 ? c : Long.compare(offset, otherOffset);
    }

    /** Is {@code (partition, offset)} newer than everything this key has applied or stashed? */
    boolean isNewer(int partition, long offset) {
        if (!stash.isEmpty()) {
            Pending last = stash.get(stash.size() - 1);
            if (compareOrder(partition, offset, last.partition(), last.offset()) <= 0) {
                return false;
            }
        }
        return compareOrder(partition, offset, appliedPartition, appliedOffset) > 0;
    }

    /** The key's last time: of its last stashed command, else of its applied value. */
    long lastTime() {
        return stash.isEmpty() ? appliedTime : Math.max(appliedTime, stash.get(stash.size() - 1).time());
    }

    void setApplied(UpsertValue newValue, int partition, long offset, long time) {
        value = newValue;
        appliedPartition = partition;
        appliedOffset = offset;
        appliedTime = time;
    }

    /** Nothing applied worth keeping and nothing stashed: the state can be cleared. */
    boolean isEmpty() {
        return value == null && stash.isEmpty();
    }

    /**
     * When {@link #isEmpty}, forgets the applied order key and time, as clearing the state would:
     * a state kept on the heap then behaves exactly like the cleared one.
     */
    void forgetIfEmpty() {
        if (isEmpty()) {
            setApplied(null, Integer.MIN_VALUE, Long.MIN_VALUE, Long.MIN_VALUE);
        }
    }

    /** Serializer of {@link KeyState}: value, applied order key and time, then the stash entries. */
    public static final class Serializer extends TypeSerializerSingleton<KeyState> {
        private static final long serialVersionUID = 1L;
        public static final Serializer INSTANCE = new Serializer();

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public KeyState createInstance() {
            return new KeyState();
        }

        /** Deep enough: the pending entries and values are immutable, the list is not. */
        @Override
        public KeyState copy(KeyState from) {
            KeyState copy = new KeyState(from.stash.size() + 1);
            copy.setApplied(from.value, from.appliedPartition, from.appliedOffset, from.appliedTime);
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
            out.writeInt(state.appliedPartition);
            out.writeLong(state.appliedOffset);
            out.writeLong(state.appliedTime);
            out.writeInt(state.stash.size());
            for (Pending pending : state.stash) {
                out.writeLong(pending.time());
                out.writeInt(pending.partition());
                out.writeLong(pending.offset());
                ValueCodec.writeValue(pending.value(), out);
            }
        }

        @Override
        public KeyState deserialize(DataInputView in) throws IOException {
            UpsertValue value = ValueCodec.readValue(in);
            int partition = in.readInt();
            long offset = in.readLong();
            long time = in.readLong();
            int size = in.readInt();
            KeyState state = new KeyState(size + 1);
            state.setApplied(value, partition, offset, time);
            for (int i = 0; i < size; i++) {
                state.stash.add(new Pending(in.readLong(), in.readInt(), in.readLong(), ValueCodec.readValue(in)));
            }
            return state;
        }

        @Override
        public KeyState deserialize(KeyState reuse, DataInputView in) throws IOException {
            return deserialize(in);
        }

        @Override
        public void copy(DataInputView in, DataOutputView out) throws IOException {
            ValueCodec.copyValue(in, out);
            out.writeInt(in.readInt());
            out.writeLong(in.readLong());
            out.writeLong(in.readLong());
            int size = in.readInt();
            out.writeInt(size);
            for (int i = 0; i < size; i++) {
                out.writeLong(in.readLong());
                out.writeInt(in.readInt());
                out.writeLong(in.readLong());
                ValueCodec.copyValue(in, out);
            }
        }

        @Override
        public TypeSerializerSnapshot<KeyState> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Serializer snapshot (Flink instantiates it reflectively). */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<KeyState> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
