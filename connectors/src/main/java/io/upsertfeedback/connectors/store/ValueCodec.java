package io.upsertfeedback.connectors.store;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import io.upsertfeedback.schemas.ValueEncoding;

import java.io.IOException;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Payload encoding: zstd, or the raw bytes when compression does not make them smaller (short or
 * already-compressed values). The chosen {@link ValueEncoding} is recorded in the value's
 * {@code StoredValueMeta}, together with the raw size, so decoding needs nothing else.
 *
 * <p>An encoder reuses its zstd compression contexts: creating one per value (what
 * {@code Zstd.compress(byte[], int)} does) allocates and frees zstd's native workspace every time,
 * which took a fifth of the sink's task thread on the 24-hour backlog benchmark (JFR native
 * samples). Contexts are pooled, one per thread encoding at once, and freed by {@link #close}
 * (they hold native memory the garbage collector does not see). Thread-safe.
 */
public final class ValueCodec implements AutoCloseable {
    /** zstd level 3: zstd's default, a good speed/ratio point for a write path. */
    private static final int LEVEL = 3;
    /** Shorter values are stored raw: zstd's frame header alone would eat most of the gain. */
    private static final int MIN_COMPRESSED_LENGTH = 64;

    private final ConcurrentLinkedQueue<ZstdCompressCtx> idle = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    public record Encoded(ValueEncoding encoding, byte[] bytes) {}

    /**
     * {@code raw} compressed with zstd, or {@code raw} itself ({@link ValueEncoding#RAW}) when that is
     * not smaller. After {@link #close} an encoding still works but frees its context at once.
     */
    public Encoded encode(byte[] raw) {
        if (raw.length >= MIN_COMPRESSED_LENGTH) {
            byte[] compressed = compress(raw);
            if (compressed.length < raw.length) {
                return new Encoded(ValueEncoding.ZSTD, compressed);
            }
        }
        return new Encoded(ValueEncoding.RAW, raw);
    }

    private byte[] compress(byte[] raw) {
        ZstdCompressCtx ctx = idle.poll();
        if (ctx == null) {
            ctx = new ZstdCompressCtx().setLevel(LEVEL);
        }
        try {
            return ctx.compress(raw);
        } finally {
            if (closed) {
                ctx.close();
            } else {
                idle.add(ctx);
                if (closed) {
                    closeIdle();
                }
            }
        }
    }

    /** Frees the pooled contexts (a context in use is freed when its encoding ends). */
    @Override
    public void close() {
        closed = true;
        closeIdle();
    }

    private void closeIdle() {
        for (ZstdCompressCtx ctx = idle.poll(); ctx != null; ctx = idle.poll()) {
            ctx.close();
        }
    }

    /**
     * The raw bytes of a stored payload.
     *
     * @param rawSize the raw size recorded with it (bytes)
     * @throws IOException if a zstd payload is corrupt or its raw size exceeds one array
     */
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
