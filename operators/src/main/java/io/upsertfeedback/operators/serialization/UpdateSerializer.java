package io.upsertfeedback.operators.serialization;

import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.lang.reflect.Type;
import java.util.HashMap;
import java.util.Map;

/**
 * Flink serializer of {@link Update}. A data update is tag 0, key bytes, value, time, diff,
 * partition, offset; a progress marker is tag 1, frontier, then its (partition, position) pairs.
 */
public final class UpdateSerializer extends TypeSerializerSingleton<Update> {
    private static final long serialVersionUID = 1L;
    private static final byte DATA = 0;
    private static final byte PROGRESS = 1;

    public static final UpdateSerializer INSTANCE = new UpdateSerializer();

    public static final TypeInformation<Update> TYPE_INFO = new SerializerTypeInfo<>(Update.class, INSTANCE);

    @Override
    public boolean isImmutableType() {
        return true;
    }

    @Override
    public Update createInstance() {
        return null;
    }

    @Override
    public Update copy(Update from) {
        return from;
    }

    @Override
    public Update copy(Update from, Update reuse) {
        return from;
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(Update update, DataOutputView out) throws IOException {
        if (update.isProgress()) {
            out.writeByte(PROGRESS);
            out.writeLong(update.time());
            out.writeInt(update.positions().size());
            for (Map.Entry<Integer, Long> position : update.positions().entrySet()) {
                out.writeInt(position.getKey());
                out.writeLong(position.getValue());
            }
            return;
        }
        out.writeByte(DATA);
        ValueCodec.writeBytes(update.key(), out);
        ValueCodec.writeValue(update.value(), out);
        out.writeLong(update.time());
        out.writeByte(update.diff());
        out.writeInt(update.partition());
        out.writeLong(update.offset());
    }

    @Override
    public Update deserialize(DataInputView in) throws IOException {
        byte tag = in.readByte();
        if (tag == PROGRESS) {
            long frontier = in.readLong();
            int size = in.readInt();
            Map<Integer, Long> positions = new HashMap<>(size * 2);
            for (int i = 0; i < size; i++) {
                positions.put(in.readInt(), in.readLong());
            }
            return Update.progress(frontier, positions);
        }
        if (tag != DATA) {
            throw new IOException("corrupt update tag " + tag);
        }
        return Update.of(ValueCodec.readBytes(in), ValueCodec.readValue(in), in.readLong(), in.readByte(), in.readInt(), in.readLong());
    }

    @Override
    public Update deserialize(Update reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView in, DataOutputView out) throws IOException {
        byte tag = in.readByte();
        out.writeByte(tag);
        if (tag == PROGRESS) {
            out.writeLong(in.readLong());
            int size = in.readInt();
            out.writeInt(size);
            for (int i = 0; i < size; i++) {
                out.writeInt(in.readInt());
                out.writeLong(in.readLong());
            }
            return;
        }
        ValueCodec.copyBytes(in, out);
        ValueCodec.copyValue(in, out);
        out.writeLong(in.readLong());
        out.writeByte(in.readByte());
        out.writeInt(in.readInt());
        out.writeLong(in.readLong());
    }

    @Override
    public TypeSerializerSnapshot<Update> snapshotConfiguration() {
        return new Snapshot();
    }

    /** Serializer snapshot (Flink instantiates it reflectively). */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<Update> {
        public Snapshot() {
            super(() -> INSTANCE);
        }
    }

    /** Referenced by {@code @TypeInfo} on {@link Update}. */
    public static final class Factory extends TypeInfoFactory<Update> {
        @Override
        public TypeInformation<Update> createTypeInfo(Type type, Map<String, TypeInformation<?>> genericParameters) {
            return TYPE_INFO;
        }
    }
}
