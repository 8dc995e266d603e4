package io.upsertfeedback.connectors.store;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@link PersistFrontier} contract, run per backend: P and positions as minima over the subtask
 * columns, fencing between jobs and between attempts of one subtask, columns that never go
 * backwards, and folding on rescale (across jobs and within one job).
 */
public abstract class PersistFrontierContractTest {
    private static final Duration MINUTE = Duration.ofMinutes(1);
    protected PersistFrontier frontier;

    /** A fresh frontier over an empty store, named {@code store-frontier} in messages. */
    protected abstract PersistFrontier newFrontier() throws IOException;

    @BeforeEach
    void setUp() throws IOException {
        frontier = newFrontier();
    }

    private static FrontierState at(long p, Map<Integer, Long> positions) {
        return new FrontierState(p, positions);
    }

    /** Heartbeats {@code leases} every 20 ms until closed, as a running job's sink does (every quarter lease). */
    protected static AutoCloseable heartbeating(PersistFrontier.Lease... leases) {
        ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
        beats.scheduleWithFixedDelay(() -> {
            for (PersistFrontier.Lease l : leases) {
                try {
                    l.heartbeat();
                } catch (IOException fencedOrReleased) {
                    // a fenced lease stops beating, as a fenced sink fails
                }
            }
        }, 0, 20, TimeUnit.MILLISECONDS);
        return beats::shutdownNow;
    }

    @Test
    void anEmptyStoreHasNoFrontier() throws IOException {
        assertEquals(FrontierState.EMPTY, frontier.read());
        assertNull(frontier.leaseHolder());
    }

    @Test
    void pIsTheMinimumOverSubtasksAndPositionsThePerPartitionMinimum() throws IOException {
        PersistFrontier.Lease s0 = frontier.claim("e1", 0, 3, MINUTE);
        PersistFrontier.Lease s1 = frontier.claim("e1", 1, 3, MINUTE);
        PersistFrontier.Lease s2 = frontier.claim("e1", 2, 3, MINUTE);
        assertEquals(Long.MIN_VALUE, frontier.read().p(), "a claim does not move P");
        s0.advance(at(10L, Map.of(0, 5L, 1, 11L)));
        s1.advance(at(7L, Map.of(0, 3L, 1, 9L)));
        assertEquals(FrontierState.EMPTY, frontier.read(), "subtask 2 has acknowledged nothing yet");
        s2.advance(at(12L, Map.of(0, 8L, 1, 4L)));
        assertEquals(at(7L, Map.of(0, 3L, 1, 4L)), frontier.read());
        assertEquals("e1", frontier.leaseHolder());
    }

    /**
     * The bug: a subtask that has seen no command of a partition yet records no position for it,
     * and the others' positions were taken for the whole job, so a job resumed on the store skipped
     * that subtask's commands of the partition, never written (a run killed in its final flush,
     * resumed: 664 of 1,804 keys missing). A partition is a resume position only where every
     * subtask vouches for it.
     */
    @Test
    void aPartitionOneSubtaskHasNoPositionForIsNoResumePosition() throws IOException {
        PersistFrontier.Lease s0 = frontier.claim("e1", 0, 2, MINUTE);
        PersistFrontier.Lease s1 = frontier.claim("e1", 1, 2, MINUTE);
        s0.advance(at(10L, Map.of(0, 5L, 1, 4_911L, 2, 5_439L)));
        s1.advance(at(12L, Map.of(0, 3L, 2, 6_000L)));
        assertEquals(at(10L, Map.of(0, 3L, 2, 5_439L)), frontier.read());
    }

    @Test
    void aColumnNeverGoesBackwards() throws IOException {
        PersistFrontier.Lease s0 = frontier.claim("e1", 0, 1, MINUTE);
        s0.advance(at(10L, Map.of(0, 5L)));
        s0.advance(at(4L, Map.of(0, 2L)));
        assertEquals(at(10L, Map.of(0, 5L)), frontier.read());
        s0.advance(at(Long.MAX_VALUE, Map.of(0, 9L)));
        s0.advance(at(11L, Map.of(0, 6L)));
        assertEquals(Long.MAX_VALUE, frontier.read().p(), "the final mark is never lost");
    }

    @Test
    void aSecondJobFailsFastWhileTheFirstHoldsTheLease() throws Exception {
        frontier.claim("e1", 0, 1, MINUTE);
        try (AutoCloseable running = heartbeating(frontier.claim("e1", 0, 1, MINUTE))) {
            long start = System.nanoTime();
            FencedException e = assertThrows(FencedException.class, () -> frontier.claim("e2", 0, 1, MINUTE));
            assertTrue(e.getMessage().contains("e1"), e.getMessage());
            assertTrue(System.nanoTime() - start < MINUTE.toNanos() / 4, "seen alive at its next heartbeat, not after its lease");
        }
        assertEquals("e1", frontier.leaseHolder());
    }

    /**
     * Issue 11, point 8: liveness between jobs is not decided by comparing the claimer's clock with
     * heartbeats written by another host's clock: a holder that stopped heartbeating is taken over
     * once the claimer has watched it for one lease on its own clock, whatever its heartbeats say.
     */
    @Test
    void aSilentHolderIsTakenOverAfterOneLeaseWatchedOnTheClaimersClock() throws IOException {
        Duration lease = Duration.ofMillis(300);
        PersistFrontier.Lease old = frontier.claim("e1", 0, 1, lease);
        old.heartbeat();
        assertEquals("e1", frontier.leaseHolder(), "a holder that did not release keeps the lease until watched");
        long start = System.nanoTime();
        frontier.claim("e2", 0, 1, MINUTE);
        assertTrue(System.nanoTime() - start >= lease.toNanos(), "watched for a whole lease first");
        assertThrows(FencedException.class, old::heartbeat);
        assertEquals("e2", frontier.leaseHolder());
    }

    @Test
    void aReleasedStoreCanBeClaimedOnceEverySubtaskReleased() throws Exception {
        PersistFrontier.Lease s0 = frontier.claim("e1", 0, 2, MINUTE);
        PersistFrontier.Lease s1 = frontier.claim("e1", 1, 2, MINUTE);
        s0.release();
        try (AutoCloseable running = heartbeating(s1)) {
            assertThrows(FencedException.class, () -> frontier.claim("e2", 0, 1, MINUTE), "subtask 1 still runs");
        }
        s1.release();
        assertNull(frontier.leaseHolder());
        frontier.claim("e2", 0, 1, MINUTE);
        assertEquals("e2", frontier.leaseHolder());
    }

    /**
     * Issue 13: a job stopped with a savepoint kept its lease, so the job resubmitted from that
     * savepoint was refused until the lease expired. A successor (restored from the holder's
     * snapshot) takes over a live lease at once and fences the holder; anyone else is still refused.
     */
    @Test
    void aJobRestoredFromTheHoldersSnapshotTakesOverItsLiveLease() throws Exception {
        PersistFrontier.Lease old = frontier.claim("e1", 0, 1, MINUTE);
        old.advance(at(5L, Map.of(0, 3L)));
        try (AutoCloseable running = heartbeating(old)) {
            assertThrows(FencedException.class, () -> frontier.claim("e2", Set.of("e0"), 0, 2, MINUTE), "not e1's successor");
            PersistFrontier.Lease next = frontier.claim("e2", Set.of("e1"), 0, 2, MINUTE);
            assertEquals("e2", frontier.leaseHolder());
            assertEquals(at(5L, Map.of(0, 3L)), frontier.read(), "a takeover never moves P");
            assertThrows(FencedException.class, () -> old.advance(at(9L, Map.of())));
            try (AutoCloseable successor = heartbeating(next)) {
                assertThrows(FencedException.class, () -> frontier.claim("e1", 0, 1, MINUTE), "the predecessor cannot come back");
            }
        }
    }

    @Test
    void aNewJobTakesOverAnExpiredLeaseAndFencesTheOldOne() throws IOException {
        PersistFrontier.Lease old = frontier.claim("e1", 0, 1, Duration.ZERO);
        old.advance(at(5L, Map.of()));
        frontier.claim("e2", 0, 1, MINUTE);
        FencedException e = assertThrows(FencedException.class, () -> old.advance(at(9L, Map.of())));
        assertTrue(e.getMessage().contains("e2"), e.getMessage());
        assertThrows(FencedException.class, old::heartbeat);
        assertEquals(5L, frontier.read().p());
    }

    /** A failover starts a new attempt of a subtask while the old one may still run: the old one is fenced. */
    @Test
    void aZombieAttemptCannotAdvanceTheFrontier() throws IOException {
        PersistFrontier.Lease zombie = frontier.claim("e1", 0, 2, MINUTE);
        PersistFrontier.Lease other = frontier.claim("e1", 1, 2, MINUTE);
        zombie.advance(at(5L, Map.of(0, 1L)));
        other.advance(at(50L, Map.of(0, 1L)));
        PersistFrontier.Lease next = frontier.claim("e1", 0, 2, MINUTE);
        assertThrows(FencedException.class, () -> zombie.advance(at(40L, Map.of(0, 9L))));
        assertThrows(FencedException.class, zombie::release);
        assertEquals(5L, frontier.read().p(), "the new attempt starts where the column was");
        next.advance(at(30L, Map.of(0, 4L)));
        other.advance(at(60L, Map.of(0, 4L)));
        assertEquals(at(30L, Map.of(0, 4L)), frontier.read(), "other subtasks keep their columns");
    }

    @Test
    void rescalingAcrossJobsFoldsTheOldColumnsIntoTheNewOnes() throws IOException {
        PersistFrontier.Lease a0 = frontier.claim("e1", 0, 3, Duration.ZERO);
        PersistFrontier.Lease a1 = frontier.claim("e1", 1, 3, Duration.ZERO);
        PersistFrontier.Lease a2 = frontier.claim("e1", 2, 3, Duration.ZERO);
        a0.advance(at(10L, Map.of(0, 5L)));
        a1.advance(at(7L, Map.of(0, 3L, 1, 9L)));
        a2.advance(at(12L, Map.of(2, 1L)));
        FrontierState before = frontier.read();

        PersistFrontier.Lease b0 = frontier.claim("e2", 0, 2, Duration.ZERO);
        assertEquals(before, frontier.read(), "P and positions survive scaling in");
        PersistFrontier.Lease b1 = frontier.claim("e2", 1, 2, Duration.ZERO);
        b0.advance(at(20L, Map.of(0, 8L, 1, 10L, 2, 2L)));
        assertEquals(7L, frontier.read().p(), "subtask 1 still holds the folded frontier; no stale third column");
        b1.advance(at(15L, Map.of(0, 9L, 1, 11L, 2, 3L)));
        assertEquals(at(15L, Map.of(0, 8L, 1, 10L, 2, 2L)), frontier.read());

        frontier.claim("e3", 0, 4, Duration.ZERO);
        assertEquals(at(15L, Map.of(0, 8L, 1, 10L, 2, 2L)), frontier.read(), "and scaling out");
    }

    /**
     * The same job rescaled in place (adaptive scheduler, reactive mode): same epoch, fewer
     * subtasks. The columns of subtasks that no longer exist used to stay, and P stayed at their
     * minimum forever.
     */
    @Test
    void anInJobRescaleDropsTheColumnsOfSubtasksThatNoLongerExist() throws IOException {
        PersistFrontier.Lease a0 = frontier.claim("e1", 0, 3, MINUTE);
        PersistFrontier.Lease a1 = frontier.claim("e1", 1, 3, MINUTE);
        PersistFrontier.Lease a2 = frontier.claim("e1", 2, 3, MINUTE);
        a0.advance(at(10L, Map.of(0, 5L)));
        a1.advance(at(8L, Map.of(0, 4L)));
        a2.advance(at(9L, Map.of(0, 6L)));

        PersistFrontier.Lease b0 = frontier.claim("e1", 0, 2, MINUTE);
        PersistFrontier.Lease b1 = frontier.claim("e1", 1, 2, MINUTE);
        assertEquals(at(8L, Map.of(0, 4L)), frontier.read(), "the fold keeps P");
        b0.advance(at(20L, Map.of(0, 10L)));
        b1.advance(at(21L, Map.of(0, 11L)));
        assertEquals(at(20L, Map.of(0, 10L)), frontier.read(), "P moves on without the removed subtask's column");
        assertThrows(FencedException.class, () -> a2.advance(at(30L, Map.of(0, 12L))), "the removed subtask is fenced");
    }
}
