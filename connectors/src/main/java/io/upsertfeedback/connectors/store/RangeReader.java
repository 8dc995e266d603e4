package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads a large object as concurrent byte ranges and reassembles them in order. Objects at or
 * below {@code threshold} are read in one request. Above it, the object is cut into
 * {@code chunkSize} ranges; at most {@code maxConcurrent} are in flight (a sliding window: the
 * oldest range is awaited, copied into place, and the next one started), each bounded by
 * {@code rangeTimeout}. The first failed or timed-out range cancels every other in-flight range and
 * fails the read with a {@link TransientStorageException} (a timeout) or the range's own error.
 * Shared by every long-term tier; the tier only supplies how to fetch one range.
 */
public final class RangeReader {

    /** Settings of ranged reads. */
    public record Settings(long threshold, int chunkSize, int maxConcurrent, Duration rangeTimeout) {
        public Settings {
            if (chunkSize <= 0 || maxConcurrent <= 0) {
                throw new IllegalArgumentException("chunkSize and maxConcurrent must be positive");
            }
        }

        public static Settings defaults() {
            return new Settings(8L << 20, 4 << 20, 4, Duration.ofSeconds(30));
        }
    }

    @FunctionalInterface
    public interface RangeFetcher {
        /** Exactly {@code length} bytes starting at {@code offset}. */
        byte[] fetch(long offset, int length) throws IOException;
    }

    private final Settings settings;
    private final ExecutorService pool;

    public RangeReader(Settings settings, ExecutorService pool) {
        this.settings = settings;
        this.pool = pool;
    }

    public byte[] read(long size, RangeFetcher fetcher) throws IOException {
        if (size > Integer.MAX_VALUE - 16) {
            throw new IOException("object of " + size + " bytes is too large to hold in memory");
        }
        byte[] out = new byte[(int) size];
        if (size <= settings.threshold()) {
            copy(fetcher.fetch(0, (int) size), out, 0, (int) size);
            return out;
        }
        Deque<Future<byte[]>> inFlight = new ArrayDeque<>();
        Deque<Long> offsets = new ArrayDeque<>();
        long next = 0;
        long written = 0;
        try {
            while (written < size) {
                while (next < size && inFlight.size() < settings.maxConcurrent()) {
                    long offset = next;
                    int length = (int) Math.min(settings.chunkSize(), size - offset);
                    inFlight.add(pool.submit(() -> fetcher.fetch(offset, length)));
                    offsets.add(offset);
                    next += length;
                }
                long offset = offsets.poll();
                byte[] chunk = inFlight.poll().get(settings.rangeTimeout().toMillis(), TimeUnit.MILLISECONDS);
                int length = (int) Math.min(settings.chunkSize(), size - offset);
                copy(chunk, out, offset, length);
                written += length;
            }
            return out;
        } catch (TimeoutException e) {
            throw new TransientStorageException("a range read took longer than " + settings.rangeTimeout(), e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException("range read failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted during a ranged read");
        } finally {
            inFlight.forEach(f -> f.cancel(true));
        }
    }

    private static void copy(byte[] chunk, byte[] out, long offset, int length) throws IOException {
        if (chunk.length != length) {
            throw new IOException("short range read at " + offset + ": got " + chunk.length + " of " + length + " bytes");
        }
        System.arraycopy(chunk, 0, out, (int) offset, length);
    }
}
