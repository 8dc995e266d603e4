package io.upsertfeedback.connectors.store;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Background deletion of long-term objects that lost their last reference, driven by
 * {@link PendingCleanup} notes. Resolving a note: read the key's row; if the row's tombstone does not
 * point at the object, delete the object; then remove the note. Every step is idempotent and
 * retried with backoff, so running a note twice (after a crash, or by two recoveries) is harmless.
 *
 * <p>Bounded: at most {@code capacity} notes are queued or running; {@link #submit} blocks beyond
 * that, which pushes back on the writes that create notes. {@link #drain} waits for every
 * submitted note and reports a note that could not be resolved (it stays stored, so the next start
 * recovers it); the sink drains before each checkpoint completes.
 */
public final class Cleaner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Cleaner.class);

    private final HighVolumeTier highVolume;
    private final LongTermTier longTerm;
    private final Retrier retrier;
    private final StoreMetrics metrics;
    private final Semaphore capacity;
    private final int maxCapacity;
    private final ExecutorService pool;
    private IOException failure;
    private int outstanding;

    public Cleaner(HighVolumeTier highVolume, LongTermTier longTerm, Retrier retrier, StoreMetrics metrics, int capacity, int threads) {
        this.highVolume = highVolume;
        this.longTerm = longTerm;
        this.retrier = retrier;
        this.metrics = metrics;
        this.maxCapacity = capacity;
        this.capacity = new Semaphore(capacity);
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "tiered-store-cleanup");
            t.setDaemon(true);
            return t;
        });
    }

    /** Queues notes for resolution; blocks while the cleaner is full. */
    public void submit(List<PendingCleanup> notes) throws InterruptedIOException {
        for (PendingCleanup note : notes) {
            try {
                capacity.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for cleanup capacity");
            }
            synchronized (this) {
                outstanding++;
            }
            pool.execute(() -> {
                IOException error = null;
                try {
                    resolve(note);
                } catch (IOException | RuntimeException e) {
                    error = e instanceof IOException io ? io : new IOException(e);
                    LOG.warn("cleanup of {} failed, its note stays for recovery: {}", note.objectName(), e.toString());
                } finally {
                    capacity.release();
                    synchronized (this) {
                        outstanding--;
                        if (error != null && failure == null) {
                            failure = error;
                        }
                        notifyAll();
                    }
                }
            });
        }
    }

    /**
     * Resolves a note of this writer's own finished operation, on the calling thread: nothing else
     * may still commit its object, so one read of the row decides.
     */
    public void resolve(PendingCleanup note) throws IOException {
        RowState state = retrier.call(() -> highVolume.read(note.key()));
        finish(note, state.isTombstone() && state.target().equals(note.objectName()));
    }

    /**
     * Resolves a note of another writer, which may still be running (a zombie attempt after a
     * failover): before deleting the object, rewrite the row's state unchanged with a new fence,
     * conditioned on the state just read. The other writer read the row before it wrote the note,
     * so its commit, conditioned on that earlier state, can no longer succeed; if it committed
     * first, the fence's condition fails, the re-read sees the object referenced, and it stays
     * (SPEC 4.10).
     */
    public void resolveFenced(PendingCleanup note) throws IOException {
        while (true) {
            RowState state = retrier.call(() -> highVolume.read(note.key()));
            if (state.isTombstone() && state.target().equals(note.objectName())) {
                finish(note, true);
                return;
            }
            RowState fenced = state.fenced(ThreadLocalRandom.current().nextLong());
            if (retrier.call(() -> highVolume.compareAndWrite(note.key(), state, fenced))) {
                finish(note, false);
                return;
            }
        }
    }

    private void finish(PendingCleanup note, boolean referenced) throws IOException {
        if (!referenced) {
            retrier.call(() -> {
                longTerm.delete(note.objectName());
                return null;
            });
            metrics.longTermDeletes.increment();
        }
        retrier.call(() -> {
            highVolume.removePending(note);
            return null;
        });
    }

    /** Waits for all submitted notes; throws the first failure since the last drain. */
    public synchronized void drain() throws IOException {
        try {
            while (outstanding > 0) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while draining cleanup");
        }
        IOException f = failure;
        failure = null;
        if (f != null) {
            throw new IOException("a long-term object could not be cleaned up (its note is kept for recovery)", f);
        }
        highVolume.flush();
    }

    /** Notes queued or running. */
    public int backlog() {
        return maxCapacity - capacity.availablePermits();
    }

    /**
     * Resolves the notes already submitted, for at most 10 s (see {@link Pools#stopAfterRunning});
     * a note not resolved by then stays stored for the next writer's recovery.
     */
    @Override
    public void close() {
        Pools.stopAfterRunning(pool, Duration.ofSeconds(10));
    }
}
