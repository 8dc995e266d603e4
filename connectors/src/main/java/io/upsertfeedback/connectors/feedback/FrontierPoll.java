package io.upsertfeedback.connectors.feedback;

import io.upsertfeedback.connectors.store.Retrier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The feedback source's rule for one periodic read of the persist frontier {@code P}.
 *
 * <p>A failed read is a poll without news: {@code P} never goes backwards and the row is read
 * again at the next poll, so a storage stall or a dropped connection must not fail the job (it
 * did: one "channel closed" during a stall failed the feedback source, and the job restarted into
 * the stall). {@link #read} then returns empty, the caller emits nothing, and a warning is logged
 * once per outage. Only when reads have failed without a break for longer than a storage call
 * would keep retrying ({@link Retrier#patience}, set by {@code store.retry.*}) does it throw.
 *
 * <p>An interrupted read is no outage: Flink interrupts the task thread to stop the task (a
 * bounded run that is done, a cancel, a failover). It is rethrown as an
 * {@link InterruptedIOException}, uncounted and not logged; it warned "could not read the store's
 * frontier" after a successful bounded run had printed "done".
 */
final class FrontierPoll {
    private static final Logger LOG = LoggerFactory.getLogger(FrontierPoll.class);

    /** One read of {@code P}. */
    @FunctionalInterface
    interface Read {
        long p() throws IOException;
    }

    private final Duration patience;
    private final LongSupplier nanoClock;
    private long failures;
    private long failingSince;
    private boolean failing;

    FrontierPoll(Duration patience, LongSupplier nanoClock) {
        this.patience = patience;
        this.nanoClock = nanoClock;
    }

    /**
     * {@code P}, or empty when this read failed within the patience.
     *
     * @throws IOException once reads have failed without a break for longer than the patience
     */
    OptionalLong read(Read read) throws IOException {
        try {
            long p = read.p();
            failing = false;
            return OptionalLong.of(p);
        } catch (IOException | RuntimeException e) {
            if (Thread.currentThread().isInterrupted() || Retrier.isInterruption(e)) {
                InterruptedIOException stop = new InterruptedIOException("interrupted while reading the store's frontier");
                stop.initCause(e);
                throw stop;
            }
            failures++;
            long now = nanoClock.getAsLong();
            if (!failing) {
                failing = true;
                failingSince = now;
                LOG.warn("the feedback source could not read the store's frontier; P stays where it is and the read "
                        + "is retried every poll for up to {} s: {}", patience.toSeconds(), e.toString());
            } else if (now - failingSince > patience.toNanos()) {
                throw new IOException("the feedback source could not read the store's frontier for "
                        + TimeUnit.NANOSECONDS.toSeconds(now - failingSince) + " s, longer than store.retry.* lets a storage call retry", e);
            }
            return OptionalLong.empty();
        }
    }

    /** Failed reads so far (the {@code feedbackPollFailures} metric). */
    long failures() {
        return failures;
    }
}
