package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.Retrier;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Publishes one sink subtask's acknowledged frontier to the store's {@link PersistFrontier}, through
 * the subtask attempt's {@link PersistFrontier.Lease}.
 *
 * <p><b>Marks.</b> {@link #mark} registers "frontier {@code f}, with these source positions, once
 * every storage operation up to sequence number {@code seq} has completed". {@link #release} is
 * called with the executor's {@code completedBelow} after every completion: it pops the marks it
 * covers and keeps the latest as the one to publish. Choosing the mark and handing it to the
 * publishing thread happen under one lock, and a mark replaces the pending one only if its
 * frontier is higher, so what is published never goes backwards and the last mark (the final
 * {@code +inf} at the end of a bounded input) is never overwritten by an older one (SPEC 4.11).
 *
 * <p><b>One thread.</b> A single thread writes the pending mark (the latest wins when several
 * arrive before it runs), heartbeats the lease every quarter lease, and releases the lease at the
 * end of input. A failed write (after the {@link Retrier}'s retries, or fenced) is kept and
 * rethrown by {@link #checkFailure}, and nothing is published after it.
 */
final class FrontierPublisher implements AutoCloseable {
    private record Mark(long seq, long frontier, Map<Integer, Long> positions) {}

    private final PersistFrontier.Lease lease;
    private final Retrier retrier;
    private final ScheduledExecutorService thread;
    private final ScheduledFuture<?> heartbeats;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    // guarded by this
    private final ArrayDeque<Mark> marks = new ArrayDeque<>();
    private Mark pending;
    private long chosen = Long.MIN_VALUE;

    private volatile long published = Long.MIN_VALUE;

    /** @param lease this subtask attempt's claim on the frontier; {@code leaseDuration} sets the heartbeat (a quarter of it) */
    FrontierPublisher(PersistFrontier.Lease lease, Retrier retrier, int subtask, Duration leaseDuration) {
        this.lease = lease;
        this.retrier = retrier;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tiered-sink-frontier-" + subtask);
            t.setDaemon(true);
            return t;
        });
        long beat = Math.max(1, leaseDuration.toMillis() / 4);
        this.heartbeats = thread.scheduleWithFixedDelay(this::heartbeat, beat, beat, TimeUnit.MILLISECONDS);
    }

    /** Registers frontier {@code f} (with {@code positions}) for when every operation up to {@code seq} completed. */
    synchronized void mark(long seq, long f, Map<Integer, Long> positions) {
        if (!marks.isEmpty() && marks.peekLast().seq() == seq) {
            marks.pollLast(); // no operation since the previous mark: the newer one supersedes it
        }
        marks.add(new Mark(seq, f, positions));
    }

    /** Takes every mark whose operations all completed ({@code seq < completedBelow}) and schedules the latest. */
    void release(long completedBelow) {
        boolean schedule = false;
        synchronized (this) {
            Mark latest = null;
            while (!marks.isEmpty() && marks.peekFirst().seq() < completedBelow) {
                latest = marks.pollFirst();
            }
            if (latest != null && latest.frontier() > chosen) {
                chosen = latest.frontier();
                schedule = pending == null;
                pending = latest;
            }
        }
        if (schedule && !thread.isShutdown()) {
            thread.execute(this::publishPending);
        }
    }

    private void publishPending() {
        Mark m;
        synchronized (this) {
            m = pending;
            pending = null;
        }
        if (m == null || failure.get() != null) {
            return;
        }
        try {
            retrier.call(() -> {
                lease.advance(new FrontierState(m.frontier(), m.positions()));
                return null;
            });
            published = m.frontier();
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    private void heartbeat() {
        if (failure.get() != null) {
            return;
        }
        try {
            retrier.call(() -> {
                lease.heartbeat();
                return null;
            });
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    /** Publishes the pending mark now (on the publishing thread) and waits; rethrows any failure. */
    void publishNow() throws IOException, InterruptedException {
        runOnThread(this::publishPending);
        checkFailure();
    }

    /** Waits until everything handed to the publishing thread so far has run. */
    void awaitQueued() throws IOException, InterruptedException {
        runOnThread(() -> { });
    }

    /** Stops heartbeating and gives up the lease (the subtask's input ended). */
    void releaseLease() throws IOException, InterruptedException {
        heartbeats.cancel(false);
        runOnThread(() -> {
            try {
                lease.release();
            } catch (IOException e) {
                failure.compareAndSet(null, e);
            }
        });
        checkFailure();
    }

    private void runOnThread(Runnable r) throws IOException, InterruptedException {
        try {
            thread.submit(r).get();
        } catch (ExecutionException e) {
            throw new IOException("cannot update the frontier", e.getCause());
        }
    }

    /** The last frontier written to the store. */
    long published() {
        return published;
    }

    void checkFailure() throws IOException {
        Throwable t = failure.get();
        if (t != null) {
            throw t instanceof IOException io ? io : new IOException("cannot update the frontier: " + t, t);
        }
    }

    @Override
    public void close() throws InterruptedIOException {
        thread.shutdownNow();
        try {
            thread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while stopping the frontier thread");
        }
    }
}
