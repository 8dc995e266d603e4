package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;

/**
 * The store's persist frontier {@code P} and the source positions recorded with it, kept apart from
 * the data (SPEC section 2, invariants 4.8, 4.10 and 4.11). Readers (the feedback source, the job at
 * build time, local mode) use {@link #read} and {@link #leaseHolder}; the sink's subtask attempts
 * are its writers, each through the {@link Lease} its {@link #claim} returns.
 *
 * <p><b>Columns.</b> Each sink subtask {@code i} of the writing job acknowledges its own frontier
 * and positions; {@code P} is the minimum over the subtasks, the positions the per-partition minimum
 * over the partitions every subtask gives a position for ({@link FrontierState#fold}).
 * A column never goes backwards: an advance below the column's frontier is ignored.
 *
 * <p><b>Fencing, per attempt.</b> One job (a writer epoch) owns the frontier at a time: a claim by
 * another epoch fails with {@link FencedException} (naming the store and the holder) while the
 * holder's lease is live (unless the claimer succeeds the holder, see {@link #claim}), and otherwise
 * takes every column over. Liveness is decided by {@link LeaseWatch}: the claimer watches the
 * holder's heartbeats on its own clock, and never compares clocks of different hosts. Within the job, each claim is a
 * new attempt of its subtask and takes that subtask's column over. Every write of a {@link Lease}
 * is conditioned, in the same mutation, on the column still being the one this lease last wrote,
 * so a writer whose column was taken over (a zombie attempt after a failover, an old job) gets
 * {@link FencedException} at its next write and can no longer move {@code P}. All writes are
 * idempotent: retrying after a lost response is safe.
 *
 * <p><b>Rescaling.</b> A claim with another parallelism than the owner's (a new job, or the same
 * job rescaled in place) folds the columns: every new column starts at the current {@code P} and
 * positions, and columns of subtasks that no longer exist are removed, so {@code P} neither moves
 * nor stays pinned by a subtask that is gone.
 */
public interface PersistFrontier extends AutoCloseable {

    /** {@code P} and the resume positions; {@link FrontierState#EMPTY} for a store never written. */
    FrontierState read() throws IOException;

    /** The lease fields of the frontier row: holder, its lease, its subtasks' heartbeats (see {@link LeaseWatch}). */
    LeaseWatch.Observation observeLease() throws IOException;

    /**
     * The writer epoch holding the lease, or {@code null} when none does (never claimed, or every
     * subtask released it). A holder that died without releasing keeps it until a claim by another
     * job has watched it for a lease ({@link LeaseWatch}).
     */
    default String leaseHolder() throws IOException {
        LeaseWatch.Observation o = observeLease();
        return o.free() ? null : o.owner();
    }

    /**
     * Claims subtask {@code subtask}'s column for a new attempt of job {@code epoch} running with
     * {@code parallelism} subtasks (see the class doc); a claim never moves {@code P}.
     *
     * <p><b>Succession.</b> {@code predecessors} are the writer epochs whose checkpoint or savepoint
     * this job was restored from ({@code flink run -s}, the sink's writer state): the job takes over
     * from them. A live lease of a predecessor does not keep the claim out, so a job stopped with a
     * savepoint and resubmitted from it starts at once; if the predecessor still runs (a savepoint
     * taken without stopping), its writers are fenced at their next write. This is the rule of
     * Kafka's transactional producers, where a new producer with the same {@code transactional.id}
     * fences the earlier one; a job restored from someone else's snapshot is still refused.
     *
     * @param predecessors epochs this claim succeeds (empty for a job started without a snapshot)
     * @param lease how long a silent owner keeps other jobs out
     * @throws FencedException while another epoch, not among {@code predecessors}, holds a live lease
     */
    Lease claim(String epoch, Set<String> predecessors, int subtask, int parallelism, Duration lease) throws IOException;

    /** {@link #claim(String, Set, int, int, Duration)} by a job that succeeds no other. */
    default Lease claim(String epoch, int subtask, int parallelism, Duration lease) throws IOException {
        return claim(epoch, Set.of(), subtask, parallelism, lease);
    }

    /** One subtask attempt's hold on its column. */
    interface Lease {
        /**
         * Records the attempt's acknowledged frontier and positions (every write below
         * {@code state.p()} is durable); a frontier below the one last recorded is ignored.
         *
         * @throws FencedException when the column was taken over
         */
        void advance(FrontierState state) throws IOException;

        /** Refreshes the lease; {@link FencedException} when the column was taken over. */
        void heartbeat() throws IOException;

        /** Gives the lease up (the input ended): once every subtask released, another job may claim at once. */
        void release() throws IOException;
    }

    @Override
    void close() throws IOException;
}
