package io.upsertfeedback.connectors.store;

/**
 * A durable note, written to the high-volume tier <em>before</em> a long-term object can become
 * unreferenced (before uploading a new revision, before replacing or deleting a tombstone): "object
 * {@code objectName}, written for {@code key}, may need deleting". Cleanup resolves it by reading the
 * key's row: an object the row references stays, any other is deleted; then the note is removed.
 * Because a revision name is never reused, an object unreferenced once stays unreferenced, so this
 * check is safe whenever the operation that wrote the note has finished (in this process) or its
 * writer is gone (after a crash: see {@link TieredStore#recoverPendingCleanups}).
 *
 * @param id unique id of the note (one per operation and object)
 * @param owner the writer that created it, so recovery only touches notes of dead writers
 */
public record PendingCleanup(String id, String owner, String objectName, byte[] key) {}
