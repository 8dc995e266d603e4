package io.upsertfeedback.connectors.store;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/** Stopping the thread pools that run storage operations. */
public final class Pools {
    private Pools() {
    }

    /**
     * Stops {@code pool} after the operations it already runs or holds have finished: no new one is
     * accepted, and the caller waits for them up to {@code grace}, then interrupts what is left.
     * The wait ignores interrupts (the interrupt is restored afterwards): Flink interrupts a
     * cancelled task's thread again and again, and returning early would let a storage operation
     * go on after the task reported that it ended, e.g. upload a long-term object after a new
     * attempt has already recovered the cleanup notes of this one: an orphan (SPEC 4.3, 4.10).
     *
     * @return whether everything finished within {@code grace}
     */
    public static boolean stopAfterRunning(ExecutorService pool, Duration grace) {
        pool.shutdown();
        long deadline = System.nanoTime() + grace.toNanos();
        boolean interrupted = false;
        boolean finished = false;
        while (!finished) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                finished = pool.awaitTermination(left, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (!finished) {
            pool.shutdownNow();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return finished;
    }
}
