package io.upsertfeedback.connectors.store;

import com.google.cloud.BaseServiceException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;

/**
 * Retries one storage call on transient errors with exponential backoff and full jitter: attempt
 * {@code n} waits a uniformly random time in {@code [0, min(max, initial * 2^n))}, which spreads
 * out retry storms from many concurrent operations. Permanent errors and the last transient one
 * are rethrown unchanged, so the caller (and ultimately the Flink job) fails instead of skipping
 * data. Callers must only retry idempotent calls: every {@link HighVolumeTier} and
 * {@link LongTermTier} operation is.
 */
public final class Retrier {
    private final int maxAttempts;
    private final long initialMillis;
    private final long maxMillis;
    private final LongAdder retries = new LongAdder();

    public Retrier(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
        }
        this.maxAttempts = maxAttempts;
        this.initialMillis = Math.max(1, initialBackoff.toMillis());
        this.maxMillis = Math.max(initialMillis, maxBackoff.toMillis());
    }

    @FunctionalInterface
    public interface IoCall<T> {
        T call() throws IOException;
    }

    public <T> T call(IoCall<T> call) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.call();
            } catch (IOException | RuntimeException e) {
                if (attempt >= maxAttempts || !isTransient(e)) {
                    throw e;
                }
                retries.increment();
                backoff(attempt);
            }
        }
    }

    private void backoff(int attempt) throws InterruptedIOException {
        long cap = Math.min(maxMillis, initialMillis << Math.min(attempt - 1, 20));
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(cap + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while backing off a storage retry");
        }
    }

    /**
     * The longest a call keeps retrying: the sum of the backoff caps of all its retries (jitter only
     * shortens them). Polling readers use it as how long a failing read may go on before they fail.
     */
    public Duration patience() {
        long total = 0;
        for (int attempt = 1; attempt < maxAttempts; attempt++) {
            total += Math.min(maxMillis, initialMillis << Math.min(attempt - 1, 20));
        }
        return Duration.ofMillis(total);
    }

    public long retries() {
        return retries.sum();
    }

    /**
     * Whether {@code e}, or a cause of it, is an interruption ({@link InterruptedIOException},
     * {@link InterruptedException}): the calling thread is being stopped, no storage fault.
     */
    public static boolean isInterruption(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof InterruptedIOException || t instanceof InterruptedException) {
                return true;
            }
        }
        return false;
    }

    /**
     * Transient: our own {@link TransientStorageException}, a retryable GCS error, a gRPC status of
     * the Bigtable client that signals overload or unavailability, or a timeout.
     */
    public static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TransientStorageException || t instanceof java.net.SocketTimeoutException
                    || t instanceof java.util.concurrent.TimeoutException) {
                return true;
            }
            if (t instanceof BaseServiceException se) {
                return se.isRetryable() || se.getCode() == 429 || se.getCode() >= 500;
            }
            String name = t.getClass().getName();
            if (name.endsWith("StatusRuntimeException") || name.endsWith("StatusException") || name.endsWith("ApiException")) {
                String m = String.valueOf(t.getMessage());
                return m.startsWith("UNAVAILABLE") || m.startsWith("DEADLINE_EXCEEDED") || m.startsWith("ABORTED")
                        || m.startsWith("RESOURCE_EXHAUSTED") || m.contains("UNAVAILABLE") || m.contains("DEADLINE_EXCEEDED");
            }
        }
        return false;
    }
}
