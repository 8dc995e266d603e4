package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one rule, shared by every {@link PersistFrontier}, that decides whether another job's writer
 * lease is live, without comparing clocks across hosts (the holder's heartbeats are written with
 * its clock, the claimer runs on another): the claimer watches the holder's heartbeat cells on its
 * own monotonic clock. A heartbeat that moves (to anything but 0, which is a release) means the
 * holder is alive; a whole lease (the holder's own {@code sink.writer-lease}) without any movement
 * means it is gone. Holders heartbeat every quarter lease, so a live holder is seen within about
 * a quarter lease, and a dead one after one lease. Which attempt may write is never decided
 * here: every frontier write is conditioned on its column's token (SPEC 4.10).
 */
public final class LeaseWatch {

    /** The frontier row as far as leases go. */
    public record Observation(String owner, Duration lease, Map<Integer, Long> heartbeats) {
        /** Whether no job holds the lease: never claimed, or every subtask released it (heartbeat 0). */
        public boolean free() {
            return owner == null || heartbeats.values().stream().allMatch(h -> h == 0);
        }
    }

    /** Reads the frontier row's lease fields. */
    @FunctionalInterface
    public interface Look {
        Observation look() throws IOException;
    }

    private LeaseWatch() {
    }

    /**
     * Watches {@code first}'s holder until it shows it is alive or gone.
     *
     * @return {@code true} when a heartbeat moved (the holder is alive); {@code false} when the
     *         lease is free or taken by someone else, or a whole lease passed without a heartbeat
     */
    public static boolean alive(Look look, Observation first) throws IOException {
        if (first.free()) {
            return false;
        }
        long start = System.nanoTime();
        long pause = Math.max(TimeUnit.MILLISECONDS.toNanos(5), Math.min(first.lease().toNanos() / 10, TimeUnit.MILLISECONDS.toNanos(200)));
        while (System.nanoTime() - start < first.lease().toNanos()) {
            LockSupport.parkNanos(pause);
            Observation now = look.look();
            if (now.free() || !now.owner().equals(first.owner())) {
                return false;
            }
            for (Map.Entry<Integer, Long> beat : now.heartbeats().entrySet()) {
                if (beat.getValue() != 0 && !beat.getValue().equals(first.heartbeats().get(beat.getKey()))) {
                    return true;
                }
            }
        }
        return false;
    }
}
