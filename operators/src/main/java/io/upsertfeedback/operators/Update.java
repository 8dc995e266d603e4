package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.UpdateSerializer;
import org.apache.flink.api.common.typeinfo.TypeInfo;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * One element of the operator's output stream. Almost always a <b>data update</b>
 * {@code (key, value, time, diff)} with {@code diff} in {-1, +1}: a retraction of a key's old
 * value or an insert of its new one, plus the order key {@code (partition, offset)} of the command
 * that caused it (the store keeps it beside the value, so a rehydrated job can tell which commands
 * it already holds).
 *
 * <p>Rarely a <b>progress marker</b> ({@link #isProgress()}): emitted by an operator subtask just
 * before it advances its output watermark to {@code time}, carrying its source positions: for each
 * partition, the first offset that may not yet be reflected in updates below {@code time}. The
 * sink records them with the persist frontier so a new job knows where to resume its source.
 * Progress markers have no key, no value and diff 0.
 */
@TypeInfo(UpdateSerializer.Factory.class)
public final class Update {
    private final byte[] key;
    /** {@link #keyHash(byte[])} of {@link #key}; 0 for a progress marker. */
    private final int keyHash;
    private final UpsertValue value;
    private final long time;
    private final int diff;
    private final int partition;
    private final long offset;
    private final Map<Integer, Long> positions;

    private Update(byte[] key, int keyHash, UpsertValue value, long time, int diff, int partition, long offset,
                   Map<Integer, Long> positions) {
        this.key = key;
        this.keyHash = keyHash;
        this.value = value;
        this.time = time;
        this.diff = diff;
        this.partition = partition;
        this.offset = offset;
        this.positions = positions;
    }

    public static Update insert(byte[] key, UpsertValue value, long time, int partition, long offset) {
        return of(key, value, time, +1, partition, offset);
    }

    public static Update retract(byte[] key, UpsertValue value, long time, int partition, long offset) {
        return of(key, value, time, -1, partition, offset);
    }

    public static Update of(byte[] key, UpsertValue value, long time, int diff, int partition, long offset) {
        return of(key, keyHash(key), value, time, diff, partition, offset);
    }

    /**
     * A data update whose key hash the caller computed once for many updates of the key (the
     * operator, at the key's admission to its buffer): reading the key's bytes again for each update
     * was a cache miss per update in the sink's consolidation (JFR, 24-hour backlog benchmark).
     *
     * @param keyHash {@link #keyHash(byte[])} of {@code key}
     */
    static Update of(byte[] key, int keyHash, UpsertValue value, long time, int diff, int partition, long offset) {
        if (diff != 1 && diff != -1) {
            throw new IllegalArgumentException("diff must be +1 or -1, was " + diff);
        }
        return new Update(Objects.requireNonNull(key), keyHash, Objects.requireNonNull(value), time, diff, partition, offset, null);
    }

    /**
     * The hash every data update of {@code key} carries ({@link #keyHash()}): the bytes' polynomial
     * hash, mixed so that the low bits differ for keys that differ only in their last characters
     * (zero-padded numbered keys collide under the plain polynomial in a hash table).
     */
    public static int keyHash(byte[] key) {
        int h = Arrays.hashCode(key) * 0x9E3779B9;
        return h ^ (h >>> 15);
    }

    /** A progress marker: source positions valid for every update below {@code frontier}. */
    public static Update progress(long frontier, Map<Integer, Long> positions) {
        return new Update(null, 0, null, frontier, 0, -1, -1, Map.copyOf(positions));
    }

    public boolean isProgress() {
        return positions != null;
    }

    public byte[] key() {
        return key;
    }

    /** {@link #keyHash(byte[])} of {@link #key()}, without reading the key; 0 for a progress marker. */
    public int keyHash() {
        return keyHash;
    }

    public UpsertValue value() {
        return value;
    }

    public long time() {
        return time;
    }

    public int diff() {
        return diff;
    }

    public int partition() {
        return partition;
    }

    public long offset() {
        return offset;
    }

    /** Progress markers only: partition -> first offset not known to be reflected below {@link #time()}. */
    public Map<Integer, Long> positions() {
        return positions;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Update u && Arrays.equals(key, u.key) && Objects.equals(value, u.value) && time == u.time
                && diff == u.diff && partition == u.partition && offset == u.offset && Objects.equals(positions, u.positions);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(key), value, time, diff, partition, offset, positions);
    }

    @Override
    public String toString() {
        return isProgress() ? "progress@" + time + positions
                : "(" + UpsertCommand.keyOf(key) + ", " + value + ", " + time + ", " + (diff > 0 ? "+1" : "-1") + ")";
    }
}
