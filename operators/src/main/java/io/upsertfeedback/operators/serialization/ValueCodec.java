package io.upsertfeedback.operators.serialization;

import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The binary form of a nullable {@link UpsertValue} shared by every serializer of this module:
 * one tag byte (absent, value, error value), then length-prefixed bytes, then for an error value
 * the length-prefixed UTF-8 reason. Also the length-prefixed byte arrays used for keys.
 */
public final class ValueCodec {
    private static final byte ABSENT = 0;
    private static final byte VALUE = 1;
    private static final byte ERROR = 2;

    private ValueCodec() {
    }

    public static void writeValue(UpsertValue value, DataOutputView out) throws IOException {
        if (value == null) {
            out.writeByte(ABSENT);
            return;
        }
        out.writeByte(value.isError() ? ERROR : VALUE);
        writeBytes(value.bytes(), out);
        if (value.isError()) {
            writeBytes(value.error().getBytes(StandardCharsets.UTF_8), out);
        }
    }

    public static UpsertValue readValue(DataInputView in) throws IOException {
        byte tag = in.readByte();
        switch (tag) {
            case ABSENT:
                return null;
            case VALUE:
                return UpsertValue.of(readBytes(in));
            case ERROR:
                byte[] raw = readBytes(in);
                return UpsertValue.error(raw, new String(readBytes(in), StandardCharsets.UTF_8));
            default:
                throw new IOException("corrupt value tag " + tag);
        }
    }

    public static void copyValue(DataInputView in, DataOutputView out) throws IOException {
        byte tag = in.readByte();
        out.writeByte(tag);
        if (tag != ABSENT) {
            copyBytes(in, out);
            if (tag == ERROR) {
                copyBytes(in, out);
            }
        }
    }

    public static void writeBytes(byte[] bytes, DataOutputView out) throws IOException {
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    public static byte[] readBytes(DataInputView in) throws IOException {
        byte[] bytes = new byte[in.readInt()];
        in.readFully(bytes);
        return bytes;
    }

    /**
     * Copies length-prefixed bytes. Reads them into an array rather than {@code out.write(in, n)},
     * which some output views (e.g. {@code DataOutputSerializer}) do not grow for.
     */
    public static void copyBytes(DataInputView in, DataOutputView out) throws IOException {
        writeBytes(readBytes(in), out);
    }
}
