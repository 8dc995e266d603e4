package io.upsertfeedback.connectors.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Concurrent range reads: ordered reassembly whatever the completion order, bounded concurrency, timeout and cancellation. */
class RangeReaderTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final byte[] object = new byte[10_000];

    RangeReaderTest() {
        new Random(5).nextBytes(object);
    }

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
    }

    private RangeReader reader(Duration timeout) {
        return new RangeReader(new RangeReader.Settings(1000, 1500, 3, timeout), pool);
    }

    @Test
    void smallObjectsAreReadInOneRequest() throws IOException {
        AtomicInteger requests = new AtomicInteger();
        byte[] small = Arrays.copyOf(object, 900);
        byte[] got = reader(Duration.ofSeconds(10)).read(small.length, (off, len) -> {
            requests.incrementAndGet();
            return Arrays.copyOfRange(small, (int) off, (int) off + len);
        });
        assertArrayEquals(small, got);
        assertEquals(1, requests.get());
    }

    @Test
    void rangesCompletingOutOfOrderAreReassembledInOrderWithBoundedConcurrency() throws IOException {
        AtomicInteger inFlight = new AtomicInteger();
        List<Integer> maxSeen = new CopyOnWriteArrayList<>();
        CountDownLatch firstMayFinish = new CountDownLatch(2);
        byte[] got = reader(Duration.ofSeconds(10)).read(object.length, (off, len) -> {
            maxSeen.add(inFlight.incrementAndGet());
            try {
                if (off == 0) {
                    // the first range finishes only after two later ones did
                    assertTrue(firstMayFinish.await(10, TimeUnit.SECONDS));
                } else {
                    firstMayFinish.countDown();
                }
                return Arrays.copyOfRange(object, (int) off, (int) off + len);
            } catch (InterruptedException e) {
                throw new IOException(e);
            } finally {
                inFlight.decrementAndGet();
            }
        });
        assertArrayEquals(object, got);
        assertTrue(maxSeen.stream().allMatch(n -> n <= 3), "at most 3 ranges at once: " + maxSeen);
    }

    @Test
    void aFailedRangeCancelsTheOthersAndFailsTheRead() {
        CountDownLatch cancelled = new CountDownLatch(2);
        CountDownLatch othersRunning = new CountDownLatch(2);
        IOException e = assertThrows(IOException.class, () -> reader(Duration.ofSeconds(10)).read(object.length, (off, len) -> {
            if (off == 0) {
                try {
                    assertTrue(othersRunning.await(10, TimeUnit.SECONDS));
                } catch (InterruptedException interrupted) {
                    throw new IOException(interrupted);
                }
                throw new IOException("range 0 broke");
            }
            othersRunning.countDown();
            try {
                new CountDownLatch(1).await(10, TimeUnit.SECONDS);
            } catch (InterruptedException interrupted) {
                cancelled.countDown();
            }
            return new byte[len];
        }));
        assertEquals("range 0 broke", e.getMessage());
        assertDoesComplete(cancelled);
    }

    @Test
    void aRangeOverItsTimeoutFailsTheReadAsTransient() {
        CountDownLatch never = new CountDownLatch(1);
        assertThrows(TransientStorageException.class, () -> reader(Duration.ofMillis(50)).read(object.length, (off, len) -> {
            try {
                never.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // cancelled by the reader
            }
            return new byte[len];
        }));
    }

    private static void assertDoesComplete(CountDownLatch latch) {
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS), "the other ranges were cancelled (interrupted)");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
