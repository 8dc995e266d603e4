package io.upsertfeedback.connectors.feedback;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FrontierPollTest {
    private long now;
    private final FrontierPoll poll = new FrontierPoll(Duration.ofSeconds(5), () -> now);

    private static long stalled() throws IOException {
        throw new IOException("UNKNOWN: channel closed");
    }

    /**
     * The StorageStallTest failure: one "channel closed" while storage stalled failed the feedback
     * source, and the job restarted into the stall. A failed read within the patience is a poll
     * without news; the next good read gives P again.
     */
    @Test
    void aReadFailingDuringAStallIsAPollWithoutNews() throws IOException {
        assertEquals(OptionalLong.of(100), poll.read(() -> 100));
        assertEquals(OptionalLong.empty(), poll.read(FrontierPollTest::stalled));
        now += Duration.ofSeconds(4).toNanos();
        assertEquals(OptionalLong.empty(), poll.read(FrontierPollTest::stalled));
        assertEquals(OptionalLong.of(150), poll.read(() -> 150));
        assertEquals(2, poll.failures());
    }

    @Test
    void readsFailingForLongerThanThePatienceFailTheSource() throws IOException {
        poll.read(FrontierPollTest::stalled);
        now += Duration.ofSeconds(3).toNanos();
        poll.read(() -> 7); // a good read ends the outage: the patience starts again
        poll.read(FrontierPollTest::stalled);
        now += Duration.ofSeconds(5).toNanos();
        assertEquals(OptionalLong.empty(), poll.read(FrontierPollTest::stalled));
        now += 1;
        IOException e = assertThrows(IOException.class, () -> poll.read(FrontierPollTest::stalled));
        assertEquals("UNKNOWN: channel closed", e.getCause().getMessage());
    }

    /**
     * Flink interrupts the task thread to stop it; a read interrupted so warned "could not read the
     * store's frontier" after a bounded run had printed "done". It is no outage: rethrown, uncounted.
     */
    @Test
    void anInterruptedReadIsNoOutage() {
        assertThrows(InterruptedIOException.class, () -> poll.read(() -> {
            throw new IOException("Failed 1 action", new InterruptedIOException());
        }));
        try {
            Thread.currentThread().interrupt();
            assertThrows(InterruptedIOException.class, () -> poll.read(FrontierPollTest::stalled));
        } finally {
            Thread.interrupted();
        }
        assertEquals(0, poll.failures());
    }
}
