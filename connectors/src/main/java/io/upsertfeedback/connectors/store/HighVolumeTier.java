package io.upsertfeedback.connectors.store;

import io.upsertfeedback.schemas.StoredValueMeta;

import java.io.IOException;
import java.util.List;

/**
 * The high-volume tier: one row per key holding exactly one {@link RowState}. Every state change
 * is a conditional single-row operation on the tombstone target, so races between writers are
 * decided by the tier and never leave an inline value beside a tombstone:
 *
 * <ul>
 *   <li>{@link #putIfNotTombstone}/{@link #deleteIfNotTombstone}: apply unless the row holds a
 *       tombstone; then they return that tombstone instead (the caller must swap it with
 *       {@link #compareAndWrite} so its object gets cleaned up);</li>
 *   <li>{@link #compareAndWrite}: replace the state if the row's tombstone target is still
 *       {@code expectedTarget} ({@code null}: no tombstone). Idempotent: a retry after a lost
 *       response finds its own write and returns {@code true}.</li>
 * </ul>
 *
 * <p>Writes carry the value's time as the cell timestamp, so replaying a write rewrites the same
 * cells. Implementations may throw any {@link IOException}; {@link Retrier#isTransient} decides
 * whether it is retried.
 */
public interface HighVolumeTier extends AutoCloseable {

    RowState read(byte[] key) throws IOException;

    /** Writes the inline state unless the row holds a tombstone; returns {@code null} or the tombstone found. */
    RowState putIfNotTombstone(byte[] key, byte[] payload, StoredValueMeta meta) throws IOException;

    /** Writes a deletion marker unless the row holds a tombstone; returns {@code null} or the tombstone found. */
    RowState deleteIfNotTombstone(byte[] key, StoredValueMeta meta) throws IOException;

    boolean compareAndWrite(byte[] key, String expectedTarget, RowState newState) throws IOException;

    /** Rows in row-key order, starting after the row of {@code afterKey} ({@code null}: from the start). */
    CloseableIterator<StoredRow> scan(byte[] afterKey) throws IOException;

    void addPending(List<PendingCleanup> notes) throws IOException;

    /** Removes a resolved note; may be batched until {@link #flush()}. */
    void removePending(PendingCleanup note) throws IOException;

    List<PendingCleanup> listPending() throws IOException;

    /** Makes batched plain mutations durable. */
    void flush() throws IOException;

    /** A human-readable name of the store (for error messages). */
    String describe();

    @Override
    void close() throws IOException;
}
