package io.upsertfeedback.job;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Synthetic upsert traffic ({@code produce} and the demo traffic of {@code local}): records over
 * {@code produce.keys} keys, a {@code produce.delete-fraction} of deletes, a {@code
 * produce.large-fraction} of values above the tiered threshold, the rest small. Values are readable
 * UTF-8 text ({@code "k17 #1234 "} then random letters and digits: the store compresses values, so
 * filler must not compress away, or large values would stay under the threshold). Random choices
 * come from {@code produce.seed}: the same seed sends the same records.
 *
 * <p>Pacing: record {@code n} is not sent before {@code start + n / rate}, so the rate holds on
 * average without bursts building up behind a slow broker.
 */
final class LoadGenerator {
    /** What was sent so far. */
    record Stats(long records, long deletes, long largeValues, long valueBytes) {
        @Override
        public String toString() {
            return String.format("%,d records (%,d deletes, %,d large values, %,.1f MiB of values)",
                    records, deletes, largeValues, valueBytes / 1048576.0);
        }
    }

    private final int keys;
    private final int rate;
    private final long count;
    private final int smallSize;
    private final int largeSize;
    private final double largeFraction;
    private final double deleteFraction;
    private final long seed;

    LoadGenerator(ReadableConfig config) {
        keys = config.get(JobOptions.PRODUCE_KEYS);
        rate = config.get(JobOptions.PRODUCE_RATE);
        count = config.get(JobOptions.PRODUCE_COUNT);
        smallSize = (int) config.get(JobOptions.PRODUCE_VALUE_SIZE).getBytes();
        largeSize = (int) config.get(JobOptions.PRODUCE_LARGE_VALUE_SIZE).getBytes();
        largeFraction = config.get(JobOptions.PRODUCE_LARGE_FRACTION);
        deleteFraction = config.get(JobOptions.PRODUCE_DELETE_FRACTION);
        seed = config.get(JobOptions.PRODUCE_SEED);
        require(keys > 0, JobOptions.PRODUCE_KEYS, "is " + keys, "set at least 1");
        require(rate >= 0, JobOptions.PRODUCE_RATE, "is " + rate, "set 0 (unthrottled) or more");
        require(count >= 0, JobOptions.PRODUCE_COUNT, "is " + count, "set 0 (until stopped) or more");
        require(smallSize >= 2, JobOptions.PRODUCE_VALUE_SIZE, "is below 2 bytes", "set e.g. 200b");
        require(largeFraction >= 0 && largeFraction <= 1, JobOptions.PRODUCE_LARGE_FRACTION, "is " + largeFraction, "set a fraction in [0, 1]");
        require(deleteFraction >= 0 && deleteFraction <= 1, JobOptions.PRODUCE_DELETE_FRACTION, "is " + deleteFraction, "set a fraction in [0, 1]");
    }

    private static void require(boolean ok, ConfigOption<?> option, String problem, String fix) {
        if (!ok) {
            throw new IllegalArgumentException("Option '" + option.key() + "' " + problem + ". Fix: " + fix);
        }
    }

    /**
     * Sends until {@code produce.count} records are sent or {@code stopped} says so; calls
     * {@code progress} about every {@code progressEveryNanos}. Fails with the first send error.
     */
    Stats run(Producer<byte[], byte[]> producer, String topic, BooleanSupplier stopped,
              long progressEveryNanos, Consumer<Stats> progress) {
        Random random = new Random(seed);
        AtomicReference<Exception> failure = new AtomicReference<>();
        long start = System.nanoTime();
        long nextReport = start + progressEveryNanos;
        long sent = 0, deletes = 0, large = 0, bytes = 0;
        while ((count == 0 || sent < count) && !stopped.getAsBoolean()) {
            if (failure.get() != null) {
                throw new IllegalStateException("sending to topic " + topic + " failed", failure.get());
            }
            if (rate > 0) {
                long due = start + sent * 1_000_000_000L / rate;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                    continue;
                }
            }
            String key = "k" + random.nextInt(keys);
            byte[] value = null;
            double dice = random.nextDouble();
            if (dice < deleteFraction) {
                deletes++;
            } else {
                boolean isLarge = dice < deleteFraction + largeFraction;
                value = value(random, key + " #" + sent + " ", isLarge ? largeSize : smallSize / 2 + random.nextInt(smallSize + 1));
                large += isLarge ? 1 : 0;
                bytes += value.length;
            }
            producer.send(new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value), (metadata, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
            });
            sent++;
            if (System.nanoTime() >= nextReport) {
                nextReport += progressEveryNanos;
                progress.accept(new Stats(sent, deletes, large, bytes));
            }
        }
        producer.flush();
        if (failure.get() != null) {
            throw new IllegalStateException("sending to topic " + topic + " failed", failure.get());
        }
        return new Stats(sent, deletes, large, bytes);
    }

    private static final byte[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".getBytes(StandardCharsets.US_ASCII);

    private static byte[] value(Random random, String prefix, int size) {
        byte[] head = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] value = Arrays.copyOf(head, Math.max(size, head.length));
        byte[] noise = new byte[value.length - head.length];
        random.nextBytes(noise);
        for (int i = 0; i < noise.length; i++) {
            value[head.length + i] = ALPHABET[noise[i] & 63];
        }
        return value;
    }
}
