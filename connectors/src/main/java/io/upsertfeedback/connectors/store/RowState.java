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
 *
 * <p>The {@code fence} tells apart two copies of one state: cleanup recovery rewrites a row's state
 * with a new fence ({@link #fenced}) so that every compare-and-write that read the row before, such
 * as a zombie writer's commit of an object recovery is about to delete, fails (SPEC 4.10).
 * Equality ignores it; compare-and-write does not.
 */
public record RowState(Kind kind, StoredValueMeta meta, byte[] payload, String target, long fence) {

    public enum Kind { ABSENT, INLINE, TOMBSTONE, DELETED }

    public static final RowState ABSENT = new RowState(Kind.ABSENT, null, null, null, 0);

    /** The order key of the deletion marker that stands for "absent" when recovery fences an empty row. */
    private static final StoredValueMeta NOTHING = new StoredValueMeta(io.upsertfeedback.schemas.ValueEncoding.RAW, 0L,
            Long.MIN_VALUE, Integer.MIN_VALUE, Long.MIN_VALUE, null);

    public static RowState inline(byte[] payload, StoredValueMeta meta) {
        return new RowState(Kind.INLINE, Objects.requireNonNull(meta), Objects.requireNonNull(payload), null, 0);
    }

    public static RowState tombstone(String target, StoredValueMeta meta) {
        return new RowState(Kind.TOMBSTONE, Objects.requireNonNull(meta), null, Objects.requireNonNull(target), 0);
    }

    public static RowState deleted(StoredValueMeta meta) {
        return new RowState(Kind.DELETED, Objects.requireNonNull(meta), null, null, 0);
    }

    /** This state with another fence; an absent row becomes a deletion marker earlier than every write. */
    public RowState fenced(long newFence) {
        return kind == Kind.ABSENT ? new RowState(Kind.DELETED, NOTHING, null, null, newFence)
                : new RowState(kind, meta, payload, target, newFence);
    }

    public boolean isTombstone() {
        return kind == Kind.TOMBSTONE;
    }

    /** Time of the write that produced this state; {@code Long.MIN_VALUE} when absent. */
    public long time() {
        return meta == null ? Long.MIN_VALUE : meta.getTime();
    }

    /**
     * Whether this state was written by a command later than {@code meta}'s in the key's order
     * {@code (time, partition, offset)} (SPEC section 2); {@link #ABSENT} is earlier than everything.
     */
    public boolean isLaterThan(StoredValueMeta meta) {
        if (this.meta == null) {
            return false;
        }
        int c = Long.compare(this.meta.getTime(), meta.getTime());
        if (c == 0) {
            c = Integer.compare(this.meta.getPartition(), meta.getPartition());
        }
        if (c == 0) {
            c = Long.compare(this.meta.getOffset(), meta.getOffset());
        }
        return c > 0;
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
