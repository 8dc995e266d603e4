package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.SerializerTypeInfo;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

class SerializersTest {
    private static final byte[] KEY = "k\u00ff".getBytes(StandardCharsets.ISO_8859_1);
    private static final UpsertValue GOOD = UpsertValue.of(new byte[] {1, 2, 3});
    private static final UpsertValue ERROR = UpsertValue.error(new byte[] {9}, "bad magic byte \u00e9");

    /** Serializes and deserializes; copying the binary form must reproduce it byte for byte. */
    private static <T> T roundTrip(TypeSerializer<T> serializer, T value) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(8);
        serializer.serialize(value, out);
        DataOutputSerializer copied = new DataOutputSerializer(8);
        serializer.copy(new DataInputDeserializer(out.getCopyOfBuffer()), copied);
        assertArrayEquals(out.getCopyOfBuffer(), copied.getCopyOfBuffer());
        return serializer.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }

    @Test
    void commandsRoundTrip() throws Exception {
        for (UpsertCommand command : List.of(UpsertCommand.put(KEY, GOOD, 3, 42, 1_000), UpsertCommand.delete(KEY, 0, 0, -5),
                UpsertCommand.put(KEY, ERROR, 7, Long.MAX_VALUE, Long.MIN_VALUE))) {
            assertEquals(command, roundTrip(UpsertCommandSerializer.INSTANCE, command));
        }
    }

    @Test
    void updatesAndProgressMarkersRoundTrip() throws Exception {
        for (Update update : List.of(Update.insert(KEY, GOOD, 5, 1, 2), Update.retract(KEY, ERROR, 6, 0, 9),
                Update.progress(100, Map.of(0, 5L, 3, 17L)), Update.progress(Long.MAX_VALUE, Map.of()))) {
            assertEquals(update, roundTrip(UpdateSerializer.INSTANCE, update));
        }
    }

    @Test
    void keyStateRoundTrips() throws Exception {
        KeyState state = new KeyState();
        state.setApplied(ERROR, 3, 1, 10, 3);
        state.noteTime(1, 5);
        state.noteTime(0, 2);
        state.stash.add(new KeyState.Pending(4, 4, 1, 11, null));
        state.stash.add(new KeyState.Pending(6, 5, 1, 12, GOOD));
        KeyState back = roundTrip(KeyState.Serializer.INSTANCE, state);
        assertEquals(ERROR, back.value);
        assertEquals(List.of(3L, 1, 10L), List.of(back.appliedTime, back.appliedPartition, back.appliedOffset));
        assertEquals(List.of(5L, 2L, Long.MIN_VALUE), List.of(back.lastTimeIn(1), back.lastTimeIn(0), back.lastTimeIn(7)));
        assertEquals(state.stash, back.stash);
    }

    /** The core types never fall back to Kryo: their type information is the custom serializer's. */
    @Test
    void coreTypesUseTheirOwnSerializers() {
        assertInstanceOf(SerializerTypeInfo.class, TypeInformation.of(UpsertCommand.class));
        assertInstanceOf(UpsertCommandSerializer.class, TypeInformation.of(UpsertCommand.class).createSerializer(null));
        assertInstanceOf(UpdateSerializer.class, TypeInformation.of(Update.class).createSerializer(null));
    }
}
