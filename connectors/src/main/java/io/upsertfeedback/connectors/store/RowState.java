package io.upsertfeedback.connectors.store;

import io.upsertfeedback.schemas.StoredValueMeta;

import java.util.Objects;

/**
 * The one state a key's row holds in the high-volume tier: {@link Kind#ABSENT absent}, an
 * {@link Kind#INLINE inline object} (encoded payload + metadata), a {@link Kind#TOMBSTONE redirect
 * tombstone} (the long-term object's revision name + metadata), or a {@link Kind#DELETED deletion
 * marker} (metadata only: the time of the delete, kept so that a replayed older write cannot bring
 * the key back; it reads as absent).
 *
 * <p>Two states are the <em>same write</em> when kind, metadata and target agree: metadata carries
 * the time and order key of the command that wrote it and a tombstone target is a unique revision
 * name, so this is how a retried conditional write recognises that its lost attempt committed.
 */
public record RowState(Kind kind, StoredValueMeta meta, byte[] payload, String target) {

    public enum Kind { ABSENT, INLINE, TOMBSTONE, DELETED }

    public static final RowState ABSENT = new RowState(Kind.ABSENT, null, null, null);

    public static RowState inline(byte[] payload, StoredValueMeta meta) {
        return new RowState(Kind.INLINE, Objects.requireNonNull(meta), Objects.requireNonNull(payload), null);
    }

    public static RowState tombstone(String target, StoredValueMeta meta) {
        return new RowState(Kind.TOMBSTONE, Objects.requireNonNull(meta), null, Objects.requireNonNull(target));
    }

    public static RowState deleted(StoredValueMeta meta) {
        return new RowState(Kind.DELETED, Objects.requireNonNull(meta), null, null);
    }

    public boolean isTombstone() {
        return kind == Kind.TOMBSTONE;
    }

    /** Time of the write that produced this state; {@code Long.MIN_VALUE} when absent. */
    public long time() {
        return meta == null ? Long.MIN_VALUE : meta.getTime();
    }

    public boolean sameWrite(RowState other) {
        return kind == other.kind && Objects.equals(meta, other.meta) && Objects.equals(target, other.target);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RowState s && sameWrite(s) && java.util.Arrays.equals(payload, s.payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, meta, target);
    }

    @Override
    public String toString() {
        return kind + (target != null ? "->" + target : "") + (meta != null ? "@" + meta.getTime() : "");
    }
}
