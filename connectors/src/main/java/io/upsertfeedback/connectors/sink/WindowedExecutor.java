package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.Pools;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A bounded-window executor of storage operations (objectstore's {@code StreamExecutor}).
 *
 * <p><b>Window.</b> At most {@code window} operations are in flight; {@link #submit} takes a permit
 * before it starts an operation and blocks while none is free, so a slow store backpressures the
 * caller (the Flink task thread, hence the source). A permit returns when its operation completes.
 *
 * <p><b>Per-key order.</b> An operation names the keys it writes; it starts only after every
 * earlier operation on any of those keys has completed, so the writes of one key apply in
 * submission order. Operations on disjoint keys run concurrently and complete in any order.
 *
 * <p><b>Progress and failure.</b> Each operation gets a sequence number in submission order;
 * {@link #completedBelow()} is the sequence number below which every operation has completed
 * successfully (it never passes a failed one). The first failure is kept and {@link #checkFailure()}
 * rethrows it; operations chained behind it on the same key still run (each is isolated), but the
 * caller fails at its next call. {@code onComplete} runs after every
 * completion, on the completing thread, before the operation gives its place in the window back;
 * {@code onFreed} runs right after it did (the place to ask for more work: had it been asked from
 * {@code onComplete}, work could find the window still full and nothing would ask again).
 */
final class WindowedExecutor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WindowedExecutor.class);
    /** How long {@link #close} waits for the operations in flight. */
    static final Duration CLOSE_GRACE = Duration.ofSeconds(30);

    /** One storage operation. */
    @FunctionalInterface
    interface Operation {
        void run() throws IOException;
    }

    private final Semaphore permits;
    private final int window;
    private final ExecutorService pool;
    private final Runnable onComplete;
    private final Runnable onFreed;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Map<ByteBuffer, CompletableFuture<Void>> lastOfKey = new HashMap<>();

    // guarded by this
    private final TreeSet<Long> inFlight = new TreeSet<>();
    private long nextSeq;
    private int running;

    WindowedExecutor(int window, String threadName, Runnable onComplete, Runnable onFreed) {
        if (window < 1) {
            throw new IllegalArgumentException("window must be at least 1, was " + window);
        }
        this.window = window;
        this.permits = new Semaphore(window);
        this.onComplete = onComplete;
        this.onFreed = onFreed;
        this.pool = Executors.newFixedThreadPool(window, r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Starts {@code op} once a permit is free and every earlier operation on {@code keys} completed.
     *
     * @return the operation's sequence number
     * @throws IOException the first failure of an earlier operation (nothing is submitted then)
     */
    long submit(Collection<ByteBuffer> keys, Operation op) throws IOException, InterruptedException {
        while (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
            checkFailure();
        }
        checkFailure();
        long seq;
        synchronized (this) {
            seq = nextSeq++;
            inFlight.add(seq);
            running++;
        }
        List<CompletableFuture<Void>> before = new ArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        synchronized (lastOfKey) {
            for (ByteBuffer key : keys) {
                CompletableFuture<Void> previous = lastOfKey.put(key, done);
                if (previous != null && previous != done) { // a key named twice by one operation
                    before.add(previous);
                }
            }
        }
        CompletableFuture.allOf(before.toArray(new CompletableFuture[0])).handle((v, e) -> null)
                .thenRunAsync(() -> run(op), pool)
                .whenComplete((v, e) -> finish(seq, keys, done, e));
        return seq;
    }

    private static void run(Operation op) {
        try {
            op.run();
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    private void finish(long seq, Collection<ByteBuffer> keys, CompletableFuture<Void> done, Throwable e) {
        synchronized (lastOfKey) {
            for (ByteBuffer key : keys) {
                lastOfKey.remove(key, done);
            }
        }
        synchronized (this) {
            if (e != null) {
                failure.compareAndSet(null, e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
            } else {
                inFlight.remove(seq); // a failed operation stays "in flight": progress never passes it
            }
            running--;
            notifyAll();
        }
        done.complete(null);
        onComplete.run();
        permits.release(); // a free permit means this operation's completion was fully handled
        onFreed.run();
    }

    /** The sequence number below which every operation has completed successfully. */
    synchronized long completedBelow() {
        return inFlight.isEmpty() ? nextSeq : inFlight.first();
    }

    /** The sequence number of the last submitted operation ({@code -1} before the first). */
    synchronized long lastSubmitted() {
        return nextSeq - 1;
    }

    /** Whether {@link #submit} would start an operation without waiting for a permit (only the submitting thread takes permits). */
    boolean hasFreePermit() {
        return permits.availablePermits() > 0;
    }

    /** Operations in flight (permits taken); a completed operation's {@code onComplete} has run before it gives its permit back. */
    int inUse() {
        return window - permits.availablePermits();
    }

    /** Rethrows the first failure of any operation so far. */
    void checkFailure() throws IOException {
        Throwable t = failure.get();
        if (t != null) {
            throw t instanceof IOException io ? io : new IOException("a storage operation failed: " + t, t);
        }
    }

    boolean failed() {
        return failure.get() != null;
    }

    /** Waits until every submitted operation completed (successfully or not: see {@link #checkFailure}). */
    synchronized void awaitIdle() throws InterruptedException {
        while (running > 0) {
            wait();
        }
    }

    /**
     * Stops after the operations in flight have finished (at most {@link #CLOSE_GRACE}, see
     * {@link Pools#stopAfterRunning}): a cancelled sink never leaves one running behind it.
     */
    @Override
    public void close() {
        if (!Pools.stopAfterRunning(pool, CLOSE_GRACE)) {
            LOG.warn("storage operations still running {} after close; interrupted", CLOSE_GRACE);
        }
    }
}
