package io.upsertfeedback.connectors.store;

import com.github.luben.zstd.Zstd;
import io.upsertfeedback.schemas.ValueEncoding;

import java.io.IOException;

/**
 * Payload encoding: zstd, or the raw bytes when compression does not make them smaller (short or
 * already-compressed values). The chosen {@link ValueEncoding} is recorded in the value's
 * {@code StoredValueMeta}, together with the raw size, so decoding needs nothing else.
 */
public final class ValueCodec {
    /** zstd level 3: zstd's default, a good speed/ratio point for a write path. */
    private static final int LEVEL = 3;

    private ValueCodec() {}

    public record Encoded(ValueEncoding encoding, byte[] bytes) {}

    public static Encoded encode(byte[] raw) {
        if (raw.length >= 64) {
            byte[] compressed = Zstd.compress(raw, LEVEL);
            if (compressed.length < raw.length) {
                return new Encoded(ValueEncoding.ZSTD, compressed);
            }
        }
        return new Encoded(ValueEncoding.RAW, raw);
    }

    public static byte[] decode(ValueEncoding encoding, byte[] stored, long rawSize) throws IOException {
        if (encoding == ValueEncoding.RAW) {
            return stored;
        }
        if (rawSize > Integer.MAX_VALUE) {
            throw new IOException("stored value of " + rawSize + " bytes does not fit in memory as one array");
        }
        try {
            return Zstd.decompress(stored, (int) rawSize);
        } catch (RuntimeException e) {
            throw new IOException("corrupt zstd payload (" + stored.length + " bytes, expected " + rawSize + " raw)", e);
        }
    }
}
