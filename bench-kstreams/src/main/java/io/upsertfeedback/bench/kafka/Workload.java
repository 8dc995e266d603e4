package io.upsertfeedback.bench.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The benchmark workload: {@code commands} upsert commands over {@code keys} distinct string keys
 * ({@code k} + zero-padded number, drawn uniformly with a fixed seed), {@code valueSize}-byte UTF-8
 * values, a {@code deleteFraction} of deletes (null values), on a topic of {@code partitions}
 * partitions. Command {@code i} is a pure function of the seed and {@code i}. A {@code snapshot}
 * workload instead sets every key once, in key order, without deletes. Record times: command
 * {@code i} has the time {@code first + }{@link #timeOffset}{@code (i)}, one millisecond apart by
 * default, or spread evenly over {@code timeSpanMillis} (e.g. a day of backlog; 0 puts every
 * command at the same time, in one tick), {@code first} a multiple of {@link #TIMESTAMP_ALIGNMENT}.
 *
 * <p>A value is {@code <sequence>:<send millis>:} padded with dots: the sequence number makes every
 * value distinct (so no contender may skip an update as "equal value"), the send time lets a sink
 * measure end-to-end latency from the value alone, whatever the pipeline does to record times.
 *
 * <p>{@link #expected()} replays the commands on a bit set of live keys: the number of updates an
 * upsert-to-changelog pipeline must emit (a retraction of the old value when the key was live, an
 * insert of the new one when the command is not a delete) and the number of live keys at the end.
 * Every contender is checked against it. {@link #expected(long)} is the same for a pipeline that
 * coarsens times to ticks and emits only the net change of a key per tick (ours with
 * {@code upsert.tick} above 1 ms). {@link #collection} is the final collection itself (the live
 * keys and their last values), what a store must hold at the end, and {@link CollectionDigest} a
 * compact fingerprint of it.
 */
public record Workload(String topic, int keys, long commands, int valueSize, double deleteFraction, int partitions, long seed,
                       boolean snapshot, long timeSpanMillis) {
    /** {@code timeSpanMillis} of the default spacing: one millisecond between consecutive commands. */
    public static final long ONE_MILLISECOND_APART = -1;

    /** Defaults: small enough for the whole benchmark to finish in about five minutes on two cores. */
    public static Workload defaults(String topic) {
        return new Workload(topic, 100_000, 500_000, 100, 0.1, 2, 42, false, ONE_MILLISECOND_APART);
    }

    /** A snapshot: every key exactly once, no deletes (the memory sweep). */
    public static Workload snapshot(String topic, int keys, int valueSize, int partitions) {
        return new Workload(topic, keys, keys, valueSize, 0, partitions, 42, true, ONE_MILLISECOND_APART);
    }

    /** The same commands on {@code topic} with their times spread evenly over {@code spanMillis} (0: all at one time). */
    public Workload spreadOver(String topic, long spanMillis) {
        if (spanMillis < 0) {
            throw new IllegalArgumentException("time span " + spanMillis + " ms is negative");
        }
        return new Workload(topic, keys, commands, valueSize, deleteFraction, partitions, seed, snapshot, spanMillis);
    }

    /** Milliseconds from the first command's time to command {@code i}'s. */
    public long timeOffset(long i) {
        if (timeSpanMillis == ONE_MILLISECOND_APART) {
            return i;
        }
        return commands <= 1 ? 0 : Math.multiplyExact(i, timeSpanMillis) / commands;
    }

    /**
     * Reads {@code --topic --keys --commands --value-size --delete-fraction --partitions --seed --snapshot
     * --time-span-ms} overrides.
     */
    public Workload with(Map<String, String> options) {
        return new Workload(options.getOrDefault("topic", topic),
                Integer.parseInt(options.getOrDefault("keys", String.valueOf(keys))),
                Long.parseLong(options.getOrDefault("commands", String.valueOf(commands))),
                Integer.parseInt(options.getOrDefault("value-size", String.valueOf(valueSize))),
                Double.parseDouble(options.getOrDefault("delete-fraction", String.valueOf(deleteFraction))),
                Integer.parseInt(options.getOrDefault("partitions", String.valueOf(partitions))),
                Long.parseLong(options.getOrDefault("seed", String.valueOf(seed))),
                Boolean.parseBoolean(options.getOrDefault("snapshot", String.valueOf(snapshot))),
                Long.parseLong(options.getOrDefault("time-span-ms", String.valueOf(timeSpanMillis))));
    }

    /** Parses {@code --name=value} arguments; a bare {@code --flag} maps to {@code "true"}. */
    public static Map<String, String> parseArgs(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("expected --name=value, got " + arg);
            }
            int eq = arg.indexOf('=');
            options.put(eq < 0 ? arg.substring(2) : arg.substring(2, eq), eq < 0 ? "true" : arg.substring(eq + 1));
        }
        return options;
    }

    /** The arguments {@link #with} reads back. */
    public String[] toArgs() {
        return new String[] {"--topic=" + topic, "--keys=" + keys, "--commands=" + commands, "--value-size=" + valueSize,
                "--delete-fraction=" + deleteFraction, "--partitions=" + partitions, "--seed=" + seed, "--snapshot=" + snapshot,
                "--time-span-ms=" + timeSpanMillis};
    }

    /** Generates the commands in order; one generator per pass. */
    public Generator generator() {
        return new Generator();
    }

    /** The first record timestamp of a loaded workload is a multiple of this (so ticks dividing it start at command 0). */
    public static final long TIMESTAMP_ALIGNMENT = 1000;

    /** What every upsert contender must produce on this workload. */
    public Expected expected() {
        return expected(1);
    }

    /**
     * What an upsert pipeline emitting one net change per key and tick must produce ({@code tickMillis}
     * divides 1000): the updates, the live keys, and the row writes of a store that writes each net
     * change of a key and tick once (a put, or a delete of a live key).
     */
    public Expected expected(long tickMillis) {
        if (TIMESTAMP_ALIGNMENT % tickMillis != 0) {
            throw new IllegalArgumentException("tick " + tickMillis + " ms does not divide " + TIMESTAMP_ALIGNMENT);
        }
        BitSet live = new BitSet(keys);
        long[] pendingTick = new long[keys];
        Arrays.fill(pendingTick, -1);
        BitSet pendingPut = new BitSet(keys);
        long[] counts = {0, 0};
        long puts = 0;
        Generator g = generator();
        for (long i = 0; i < commands; i++) {
            g.next();
            long tick = timeOffset(i) / tickMillis;
            if (pendingTick[g.keyIndex] != tick) {
                applyPending(g.keyIndex, pendingTick, pendingPut, live, counts);
            }
            pendingTick[g.keyIndex] = tick;
            pendingPut.set(g.keyIndex, !g.delete);
            puts += g.delete ? 0 : 1;
        }
        for (int k = 0; k < keys; k++) {
            applyPending(k, pendingTick, pendingPut, live, counts);
        }
        return new Expected(commands, counts[0], live.cardinality(), puts, counts[1]);
    }

    /**
     * The net change of key {@code k} at the end of its pending tick: retract the old value if live,
     * insert a put; a put or the delete of a live key is one row write ({@code counts}: updates, row writes).
     */
    private static void applyPending(int k, long[] pendingTick, BitSet pendingPut, BitSet live, long[] counts) {
        if (pendingTick[k] < 0) {
            return;
        }
        boolean put = pendingPut.get(k);
        boolean wasLive = live.get(k);
        counts[0] += (wasLive ? 1 : 0) + (put ? 1 : 0);
        counts[1] += put || wasLive ? 1 : 0;
        live.set(k, put);
        pendingTick[k] = -1;
    }

    /**
     * Records read, updates emitted (retractions + inserts), live keys at the end, non-delete commands,
     * and row writes (net changes of a key per tick that a store writes).
     */
    public record Expected(long records, long updates, long liveKeys, long puts, long rowWrites) {
    }

    /** A key and its value in the final collection. */
    public interface EntryConsumer {
        void accept(byte[] key, byte[] value);
    }

    /**
     * Calls {@code out} with every live key of the final collection and its last value, in key order,
     * for the workload loaded with its first record time at {@code firstTimestamp} (the values carry
     * their record time).
     */
    public void collection(long firstTimestamp, EntryConsumer out) {
        long[] last = new long[keys];
        Arrays.fill(last, -1);
        Generator g = generator();
        for (long i = 0; i < commands; i++) {
            g.next();
            last[g.keyIndex] = g.delete ? -1 : i;
        }
        byte[][] values = new byte[keys][];
        g = generator();
        for (long i = 0; i < commands; i++) {
            g.next();
            if (last[g.keyIndex] == i) {
                values[g.keyIndex] = g.value(firstTimestamp + timeOffset(i));
            }
        }
        Generator keyOf = generator();
        for (int k = 0; k < keys; k++) {
            if (values[k] != null) {
                keyOf.keyIndex = k;
                out.accept(keyOf.key(), values[k]);
            }
        }
    }

    /** The digest of {@link #collection}. */
    public CollectionDigest digest(long firstTimestamp) {
        CollectionDigest digest = new CollectionDigest();
        collection(firstTimestamp, digest::add);
        return digest;
    }

    /** Parses the send time out of a value made by {@link Generator#value(long)}. */
    public static long sendMillis(byte[] value) {
        int i = 0;
        while (value[i] != ':') {
            i++;
        }
        long millis = 0;
        for (i++; value[i] != ':'; i++) {
            millis = millis * 10 + (value[i] - '0');
        }
        return millis;
    }

    /** Command generator: {@link #next()} advances, then read {@link #keyIndex}, {@link #delete}, {@link #key()}. */
    public final class Generator {
        private final SplittableRandom random = new SplittableRandom(seed);
        private final int keyDigits = String.valueOf(Math.max(keys - 1, 1)).length();
        private long sequence = -1;
        private int keyIndex;
        private boolean delete;

        public void next() {
            sequence++;
            keyIndex = snapshot ? (int) sequence : random.nextInt(keys);
            delete = deleteFraction > 0 && random.nextDouble() < deleteFraction;
        }

        public long sequence() {
            return sequence;
        }

        public boolean delete() {
            return delete;
        }

        public byte[] key() {
            String n = String.valueOf(keyIndex);
            byte[] key = new byte[1 + keyDigits];
            key[0] = 'k';
            Arrays.fill(key, 1, 1 + keyDigits - n.length(), (byte) '0');
            n.getBytes(0, n.length(), key, 1 + keyDigits - n.length());
            return key;
        }

        /** The value of the current command ({@code null} for a delete), stamped with {@code sendMillis}. */
        public byte[] value(long sendMillis) {
            if (delete) {
                return null;
            }
            byte[] head = (sequence + ":" + sendMillis + ":").getBytes(StandardCharsets.UTF_8);
            byte[] value = new byte[Math.max(valueSize, head.length)];
            System.arraycopy(head, 0, value, 0, head.length);
            Arrays.fill(value, head.length, value.length, (byte) '.');
            return value;
        }
    }
}
