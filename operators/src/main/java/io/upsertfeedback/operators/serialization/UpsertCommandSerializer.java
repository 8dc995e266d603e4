package io.upsertfeedback.operators.serialization;

import io.upsertfeedback.operators.UpsertCommand;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Map;

/** Flink serializer of {@link UpsertCommand}: key bytes, value ({@link ValueCodec}), partition, offset, time. */
public final class UpsertCommandSerializer extends TypeSerializerSingleton<UpsertCommand> {
    private static final long serialVersionUID = 1L;

    public static final UpsertCommandSerializer INSTANCE = new UpsertCommandSerializer();

    public static final TypeInformation<UpsertCommand> TYPE_INFO = new SerializerTypeInfo<>(UpsertCommand.class, INSTANCE);

    @Override
    public boolean isImmutableType() {
        return true;
    }

    @Override
    public UpsertCommand createInstance() {
        return null;
    }

    @Override
    public UpsertCommand copy(UpsertCommand from) {
        return from;
    }

    @Override
    public UpsertCommand copy(UpsertCommand from, UpsertCommand reuse) {
        return from;
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(UpsertCommand command, DataOutputView out) throws IOException {
        ValueCodec.writeBytes(command.key(), out);
        ValueCodec.writeValue(command.value(), out);
        out.writeInt(command.partition());
        out.writeLong(command.offset());
        out.writeLong(command.time());
    }

    @Override
    public UpsertCommand deserialize(DataInputView in) throws IOException {
        return new UpsertCommand(ValueCodec.readBytes(in), ValueCodec.readValue(in), in.readInt(), in.readLong(), in.readLong());
    }

    @Override
    public UpsertCommand deserialize(UpsertCommand reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView in, DataOutputView out) throws IOException {
        ValueCodec.copyBytes(in, out);
        ValueCodec.copyValue(in, out);
        out.writeInt(in.readInt());
        out.writeLong(in.readLong());
        out.writeLong(in.readLong());
    }

    @Override
    public TypeSerializerSnapshot<UpsertCommand> snapshotConfiguration() {
        return new Snapshot();
    }

    /** Serializer snapshot (Flink instantiates it reflectively). */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<UpsertCommand> {
        public Snapshot() {
            super(() -> INSTANCE);
        }
    }

    /** Referenced by {@code @TypeInfo} on {@link UpsertCommand}. */
    public static final class Factory extends TypeInfoFactory<UpsertCommand> {
        @Override
        public TypeInformation<UpsertCommand> createTypeInfo(Type type, Map<String, TypeInformation<?>> genericParameters) {
            return TYPE_INFO;
        }
    }
}
