package io.upsertfeedback.connectors.sink;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WindowedExecutorTest {

    /**
     * The orphan seen in {@code RehydrationTest} after a cancel: Flink interrupts a cancelled task's
     * thread, {@code close} returned at the interrupt, and an upload still in flight finished after
     * the next job had recovered its cleanup note. Close must wait for the operation in flight,
     * whatever interrupts the closing thread gets, and keep the interrupt for the caller.
     */
    @Test
    void closeWaitsForTheOperationInFlightThoughTheClosingThreadIsInterrupted() throws Exception {
        WindowedExecutor executor = new WindowedExecutor(2, "test-op", () -> { }, () -> { });
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        executor.submit(List.of(ByteBuffer.wrap("k".getBytes(UTF_8))), () -> {
            started.countDown();
            boolean released = false;
            while (!released) {
                try {
                    released = release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new AssertionError("close interrupted the operation in flight", e);
                }
            }
            finished.set(true);
        });
        assertTrue(started.await(30, TimeUnit.SECONDS));

        AtomicBoolean closedBeforeTheOperation = new AtomicBoolean();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread closing = new Thread(() -> {
            executor.close();
            closedBeforeTheOperation.set(!finished.get());
            interruptKept.set(Thread.currentThread().isInterrupted());
        });
        closing.start();
        for (int i = 0; i < 3; i++) { // as Flink's task canceler does
            closing.interrupt();
        }
        assertTrue(closing.isAlive(), "close returned while the operation was in flight");
        release.countDown();
        closing.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(closing.isAlive());
        assertFalse(closedBeforeTheOperation.get(), "close returned before the operation finished");
        assertTrue(interruptKept.get(), "the interrupt is restored for the caller");
    }
}
