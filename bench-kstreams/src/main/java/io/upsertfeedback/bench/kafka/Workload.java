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
 * workload instead sets every key once, in key order, without deletes.
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
 * {@code upsert.tick} above 1 ms): command {@code i} has timestamp {@code first + i} ms with
 * {@code first} a multiple of {@link #TIMESTAMP_ALIGNMENT} (see {@code Loader}).
 */
public record Workload(String topic, int keys, long commands, int valueSize, double deleteFraction, int partitions, long seed,
                       boolean snapshot) {

    /** Defaults: small enough for the whole benchmark to finish in about five minutes on two cores. */
    public static Workload defaults(String topic) {
        return new Workload(topic, 100_000, 500_000, 100, 0.1, 2, 42, false);
    }

    /** A snapshot: every key exactly once, no deletes (the memory sweep). */
    public static Workload snapshot(String topic, int keys, int valueSize, int partitions) {
        return new Workload(topic, keys, keys, valueSize, 0, partitions, 42, true);
    }

    /** Reads {@code --topic --keys --commands --value-size --delete-fraction --partitions --seed --snapshot} overrides. */
    public Workload with(Map<String, String> options) {
        return new Workload(options.getOrDefault("topic", topic),
                Integer.parseInt(options.getOrDefault("keys", String.valueOf(keys))),
                Long.parseLong(options.getOrDefault("commands", String.valueOf(commands))),
                Integer.parseInt(options.getOrDefault("value-size", String.valueOf(valueSize))),
                Double.parseDouble(options.getOrDefault("delete-fraction", String.valueOf(deleteFraction))),
                Integer.parseInt(options.getOrDefault("partitions", String.valueOf(partitions))),
                Long.parseLong(options.getOrDefault("seed", String.valueOf(seed))),
                Boolean.parseBoolean(options.getOrDefault("snapshot", String.valueOf(snapshot))));
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
                "--delete-fraction=" + deleteFraction, "--partitions=" + partitions, "--seed=" + seed, "--snapshot=" + snapshot};
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

    /** What an upsert pipeline emitting one net change per key and tick must produce ({@code tickMillis} divides 1000). */
    public Expected expected(long tickMillis) {
        if (TIMESTAMP_ALIGNMENT % tickMillis != 0) {
            throw new IllegalArgumentException("tick " + tickMillis + " ms does not divide " + TIMESTAMP_ALIGNMENT);
        }
        BitSet live = new BitSet(keys);
        long[] pendingTick = new long[keys];
        Arrays.fill(pendingTick, -1);
        BitSet pendingPut = new BitSet(keys);
        long[] updates = {0};
        long puts = 0;
        Generator g = generator();
        for (long i = 0; i < commands; i++) {
            g.next();
            long tick = i / tickMillis;
            if (pendingTick[g.keyIndex] != tick) {
                applyPending(g.keyIndex, pendingTick, pendingPut, live, updates);
            }
            pendingTick[g.keyIndex] = tick;
            pendingPut.set(g.keyIndex, !g.delete);
            puts += g.delete ? 0 : 1;
        }
        for (int k = 0; k < keys; k++) {
            applyPending(k, pendingTick, pendingPut, live, updates);
        }
        return new Expected(commands, updates[0], live.cardinality(), puts);
    }

    /** The net change of key {@code k} at the end of its pending tick: retract the old value if live, insert a put. */
    private static void applyPending(int k, long[] pendingTick, BitSet pendingPut, BitSet live, long[] updates) {
        if (pendingTick[k] < 0) {
            return;
        }
        boolean put = pendingPut.get(k);
        updates[0] += (live.get(k) ? 1 : 0) + (put ? 1 : 0);
        live.set(k, put);
        pendingTick[k] = -1;
    }

    /** Records read, updates emitted (retractions + inserts), live keys at the end, non-delete commands. */
    public record Expected(long records, long updates, long liveKeys, long puts) {
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
