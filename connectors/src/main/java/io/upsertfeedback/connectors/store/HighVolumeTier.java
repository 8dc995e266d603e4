package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.util.List;

/**
 * The high-volume tier: one row per key holding exactly one {@link RowState}, kept as versions
 * ordered by the time of the write that produced them (SPEC 4.9): a row reads as its latest
 * version, so a write of an older time lands below a newer one and is never seen as the newest.
 *
 * <p>Two ways to change a row:
 * <ul>
 *   <li>{@link #putAll}: plain versioned writes of inline values and deletion markers, in one
 *       batch, without reading. Only for rows that hold no tombstone at or below the write's time
 *       (the caller knows: the row's previous value was inline, or it had none): a plain write never
 *       removes a tombstone, so it must not replace one.</li>
 *   <li>{@link #compareAndWrite}: replaces the row's state only if it still is {@code expected}
 *       (the same write: kind and metadata), atomically. Every tombstone transition goes this way.
 *       Idempotent: a retry after a lost response finds its own write and returns {@code true}.</li>
 * </ul>
 * Either way a row is always in exactly one state: never an inline value beside a tombstone
 * (SPEC 4.4). Keys are at most {@link TieredStore#MAX_KEY_BYTES} bytes; a longer key is an
 * {@link IllegalArgumentException}. Implementations may throw any {@link IOException};
 * {@link Retrier#isTransient} decides whether it is retried.
 */
public interface HighVolumeTier extends AutoCloseable {

    /** The row's latest state ({@link RowState#ABSENT} when it has none). */
    RowState read(byte[] key) throws IOException;

    /**
     * Writes every row's state (each {@link RowState.Kind#INLINE INLINE} or
     * {@link RowState.Kind#DELETED DELETED}) as a version at its time; durable when this returns.
     * Idempotent; a row already holding a later write keeps it.
     */
    void putAll(List<StoredRow> rows) throws IOException;

    /**
     * Replaces the state of {@code key} with {@code next} if the row's latest state is the same
     * write as {@code expected} ({@link RowState#ABSENT}: the row has none). {@code next} is at
     * least as late as {@code expected} in the key's order.
     *
     * @return whether {@code next} is now the row's state (committed now or by a lost earlier attempt)
     */
    boolean compareAndWrite(byte[] key, RowState expected, RowState next) throws IOException;

    /**
     * Removes the row of {@code key} with all its versions if its latest state is exactly
     * {@code marker} (a {@link RowState.Kind#DELETED DELETED} state: same write, same fence): the
     * marker has done its work (see {@link TieredStore#collectMarker}).
     *
     * @return whether the row was removed; {@code false} when it holds anything else now
     */
    boolean removeMarker(byte[] key, RowState marker) throws IOException;

    /** Rows in row-key order, starting after the row of {@code afterKey} ({@code null}: from the start). */
    CloseableIterator<StoredRow> scan(byte[] afterKey) throws IOException;

    void addPending(List<PendingCleanup> notes) throws IOException;

    /** Removes a resolved note; may be batched until {@link #flush()}. */
    void removePending(PendingCleanup note) throws IOException;

    List<PendingCleanup> listPending() throws IOException;

    /** Makes batched note removals durable. */
    void flush() throws IOException;

    /** A human-readable name of the store (for error messages). */
    String describe();

    @Override
    void close() throws IOException;
}
