package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.Workload;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The discarding sink of every Flink contender: it consumes every element and counts, per writer,
 * the updates (elements whose {@link Diff} is not 0), the live keys (the sum of the diffs), the
 * times of the first and the last element, and optionally the end-to-end latency of each insert
 * (now minus the send time carried in its value, see {@link Workload}).
 *
 * <p>The contenders run on a local (in-JVM) cluster, so the writers register in a static queue
 * that the contender's main thread sums up after the job (or during it, for the latency run).
 */
public final class CountingSink<T> implements Sink<T> {
    static final Queue<Writer<?>> WRITERS = new ConcurrentLinkedQueue<>();
    /** Inserts sent before this wall-clock time are not measured (the job's start-up is not latency). */
    static volatile long measureLatencyFrom = Long.MAX_VALUE;

    /** The signed count of an element: +1 insert, -1 retraction, 0 not an update (e.g. a progress marker). */
    public interface Diff<T> extends Serializable {
        int of(T element);
    }

    /** The value bytes of an insert whose latency to measure, or {@code null}. */
    public interface InsertedValue<T> extends Serializable {
        byte[] of(T element);
    }

    private final Diff<T> diff;
    private final InsertedValue<T> latencyOf;

    /** Counts only. */
    public CountingSink(Diff<T> diff) {
        this(diff, null);
    }

    /** Counts and records the latency of each insert whose value {@code latencyOf} returns. */
    public CountingSink(Diff<T> diff, InsertedValue<T> latencyOf) {
        this.diff = diff;
        this.latencyOf = latencyOf;
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) {
        Writer<T> writer = new Writer<>(diff, latencyOf);
        WRITERS.add(writer);
        return writer;
    }

    static final class Writer<T> implements SinkWriter<T> {
        private final Diff<T> diff;
        private final InsertedValue<T> latencyOf;
        private long live;
        long firstNanos = Long.MAX_VALUE;
        long lastNanos;
        long[] latencies = new long[0];
        int latencyCount;
        volatile long updates;

        Writer(Diff<T> diff, InsertedValue<T> latencyOf) {
            this.diff = diff;
            this.latencyOf = latencyOf;
            if (latencyOf != null) {
                latencies = new long[1 << 16];
            }
        }

        @Override
        public void write(T element, Context context) {
            int d = diff.of(element);
            if (d == 0) {
                return;
            }
            long now = System.nanoTime();
            if (firstNanos == Long.MAX_VALUE) {
                firstNanos = now;
            }
            lastNanos = now;
            live += d;
            if (latencyOf != null && d > 0) {
                long sent = Workload.sendMillis(latencyOf.of(element));
                if (sent >= measureLatencyFrom) {
                    if (latencyCount == latencies.length) {
                        latencies = Arrays.copyOf(latencies, latencies.length * 2);
                    }
                    latencies[latencyCount++] = System.currentTimeMillis() - sent;
                }
            }
            updates++;
        }

        long live() {
            return live;
        }

        @Override
        public void flush(boolean endOfInput) {
        }

        @Override
        public void close() {
        }
    }
}
