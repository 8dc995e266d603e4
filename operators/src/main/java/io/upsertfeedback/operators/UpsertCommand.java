package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.typeinfo.TypeInfo;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One upsert command read from the source: set {@code key} to {@code value} at {@code time}, or
 * delete it when {@code value} is {@code null}. The order key {@code (time, partition, offset)}
 * decides which command of a key wins (SPEC section 2): within a partition the highest offset, as
 * Kafka's upsert meaning asks (a key's time never goes back within a partition), across
 * partitions the later time.
 *
 * <p>The same type carries rehydrated prior values on the operator's feedback input: there it is
 * the value the store holds for {@code key} as of the persist frontier, with the order key and
 * time of the command that wrote it.
 */
@TypeInfo(UpsertCommandSerializer.Factory.class)
public final class UpsertCommand {
    private final byte[] key;
    private final UpsertValue value;
    private final int partition;
    private final long offset;
    private final long time;

    public UpsertCommand(byte[] key, UpsertValue value, int partition, long offset, long time) {
        this.key = Objects.requireNonNull(key, "key");
        this.value = value;
        this.partition = partition;
        this.offset = offset;
        this.time = time;
    }

    public static UpsertCommand put(byte[] key, UpsertValue value, int partition, long offset, long time) {
        return new UpsertCommand(key, Objects.requireNonNull(value, "value"), partition, offset, time);
    }

    public static UpsertCommand delete(byte[] key, int partition, long offset, long time) {
        return new UpsertCommand(key, null, partition, offset, time);
    }

    public byte[] key() {
        return key;
    }

    /** The value to set, or {@code null} for a delete. */
    public UpsertValue value() {
        return value;
    }

    public boolean isDelete() {
        return value == null;
    }

    public int partition() {
        return partition;
    }

    public long offset() {
        return offset;
    }

    public long time() {
        return time;
    }

    /** The Flink key of a command: its key bytes as a lossless ISO-8859-1 string (value hash, cheap serializer). */
    public String flinkKey() {
        return keyOf(key);
    }

    /** The Flink key for raw key bytes; every module keys by this so partitioning agrees. */
    public static String keyOf(byte[] key) {
        return new String(key, StandardCharsets.ISO_8859_1);
    }

    /** The same command at {@code newTime} (the time rule of SPEC section 2 raised its time). */
    public UpsertCommand withTime(long newTime) {
        return newTime == time ? this : new UpsertCommand(key, value, partition, offset, newTime);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UpsertCommand c && Arrays.equals(key, c.key) && Objects.equals(value, c.value)
                && partition == c.partition && offset == c.offset && time == c.time;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(key), value, partition, offset, time);
    }

    @Override
    public String toString() {
        return keyOf(key) + (value == null ? "=<delete>" : "=" + value) + "@" + time + "[" + partition + ":" + offset + "]";
    }
}
