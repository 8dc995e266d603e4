package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.time.Duration;

/**
 * The store's persist frontier {@code P} and the source positions recorded with it, kept apart from
 * the data (SPEC section 2, invariants 4.8 and 4.11). Readers (the feedback source, the job at build
 * time, local mode) use {@link #read} and {@link #leaseHolder}; the sink's subtasks are its writers.
 *
 * <p><b>Columns.</b> Each sink subtask {@code i} of the writing job acknowledges its own frontier
 * and positions; {@code P} is the minimum over the subtasks, the positions the per-partition minimum.
 *
 * <p><b>Fencing.</b> One job (a writer epoch) owns the frontier at a time: {@link #claim} makes an
 * epoch the owner unless another epoch holds a live lease (then it throws {@link FencedException}
 * naming the store and the holder); every write checks ownership in the same mutation, so a writer
 * that lost it gets {@link FencedException} and must stop. All writes are idempotent: retrying after
 * a lost response is safe.
 */
public interface PersistFrontier extends AutoCloseable {

    /** {@code P} and the resume positions; {@link FrontierState#EMPTY} for a store never written. */
    FrontierState read() throws IOException;

    /** The writer epoch holding the frontier, or {@code null} when none holds it (never claimed, or released). */
    String leaseHolder() throws IOException;

    /**
     * Makes {@code epoch} the owner with {@code parallelism} subtask columns, each starting at the
     * current {@code P} and positions (a claim never moves {@code P}). A no-op if {@code epoch}
     * already owns it with that parallelism.
     *
     * @param lease how long a silent owner keeps others out
     * @throws FencedException while another epoch holds a live lease
     */
    void claim(String epoch, int parallelism, Duration lease) throws IOException;

    /**
     * Records subtask {@code subtask}'s acknowledged frontier and positions (every write below
     * {@code state.p()} is durable).
     *
     * @throws FencedException when {@code epoch} no longer owns the frontier
     */
    void advance(String epoch, int subtask, FrontierState state) throws IOException;

    /** Refreshes subtask {@code subtask}'s lease; {@link FencedException} when {@code epoch} lost it. */
    void heartbeat(String epoch, int subtask) throws IOException;

    /**
     * Gives up subtask {@code subtask}'s lease (its input ended); once every subtask released, another
     * epoch may claim at once.
     */
    void release(String epoch, int subtask) throws IOException;

    @Override
    void close() throws IOException;
}
