package io.upsertfeedback.connectors.store;

import io.upsertfeedback.schemas.ValueEncoding;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class ValueCodecTest {

    private static final Random RANDOM = new Random(7);

    private static byte[] compressible(int length) {
        return "an entity value that repeats itself ".repeat(length / 36 + 1).substring(0, length).getBytes(StandardCharsets.US_ASCII);
    }

    private static void assertRoundTrip(ValueCodec codec, byte[] raw) throws Exception {
        ValueCodec.Encoded encoded = codec.encode(raw);
        assertArrayEquals(raw, ValueCodec.decode(encoded.encoding(), encoded.bytes(), raw.length));
    }

    @Test
    void shortAndIncompressibleValuesAreStoredRaw() {
        try (ValueCodec codec = new ValueCodec()) {
            byte[] shortValue = compressible(63);
            assertSame(ValueEncoding.RAW, codec.encode(shortValue).encoding());
            assertSame(shortValue, codec.encode(shortValue).bytes());
            byte[] noise = new byte[4096];
            RANDOM.nextBytes(noise);
            assertSame(ValueEncoding.RAW, codec.encode(noise).encoding());
        }
    }

    @Test
    void aReusedContextEncodesEveryValueAsAFreshOneWould() throws Exception {
        try (ValueCodec codec = new ValueCodec()) {
            // a large value first: a context that grew for it must still encode small ones right
            for (int length : new int[] {5_000_000, 100, 64, 1_000_000, 200}) {
                byte[] raw = compressible(length);
                ValueCodec.Encoded encoded = codec.encode(raw);
                assertSame(ValueEncoding.ZSTD, encoded.encoding());
                assertArrayEquals(com.github.luben.zstd.Zstd.compress(raw, 3), encoded.bytes());
                assertRoundTrip(codec, raw);
            }
        }
    }

    @Test
    void threadsEncodingAtOnceGetTheirOwnContexts() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (ValueCodec codec = new ValueCodec()) {
            List<Callable<Void>> tasks = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                tasks.add(() -> {
                    for (int i = 0; i < 2_000; i++) {
                        assertRoundTrip(codec, compressible(64 + (seed * 2_000 + i) % 3_000));
                    }
                    return null;
                });
            }
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void encodingAfterCloseStillWorks() throws Exception {
        ValueCodec codec = new ValueCodec();
        assertRoundTrip(codec, compressible(500));
        codec.close();
        assertRoundTrip(codec, compressible(500));
        assertEquals(ValueEncoding.ZSTD, codec.encode(compressible(500)).encoding());
    }
}
