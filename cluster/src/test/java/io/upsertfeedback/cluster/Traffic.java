package io.upsertfeedback.cluster;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Upsert traffic for the cluster test, and its oracle. One thread, one idempotent producer:
 * data commands ({@code k0..k<keys-1>}, 10% deletes, every 400th value 2 MB of random letters so
 * it goes to the long-term tier) at {@code rate} per second while not paused, and on every
 * partition a clock record every 100 ms (key {@code clock-<p>}, always the value {@code clock}:
 * after the first it is an equal update that changes nothing) so that the input frontier keeps
 * moving while data is paused. Record times are the wall clock, never going back.
 *
 * <p>The oracle knows only the upsert rule: per key, the last command sent wins (one producer, so
 * per key send order is offset order, and times never go back), a delete removes the key.
 */
final class Traffic implements AutoCloseable {
    private static final byte[] CLOCK = "clock".getBytes(StandardCharsets.UTF_8);

    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;
    private final int partitions;
    private final int keys;
    private final int rate;
    private final Random random = new Random(13);
    private final ReentrantLock sending = new ReentrantLock();
    private final Map<String, String> oracle = new HashMap<>();
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    private final AtomicLong sent = new AtomicLong();
    private final Thread thread;
    private volatile boolean paused = true;
    private volatile boolean closed;
    private long lastTime;
    private long lastDataTime = Long.MIN_VALUE;
    private long seq;

    Traffic(KafkaProducer<byte[], byte[]> producer, String topic, int partitions, int keys, int rate) {
        this.producer = producer;
        this.topic = topic;
        this.partitions = partitions;
        this.keys = keys;
        this.rate = rate;
        this.thread = new Thread(this::loop, "cluster-test-traffic");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        long periodNanos = TimeUnit.SECONDS.toNanos(1) / rate;
        long nextData = System.nanoTime();
        long nextClock = System.nanoTime();
        while (!closed) {
            sending.lock();
            try {
                long now = System.nanoTime();
                if (now >= nextClock) {
                    long t = time();
                    for (int p = 0; p < partitions; p++) {
                        send(new ProducerRecord<>(topic, p, t, ("clock-" + p).getBytes(StandardCharsets.UTF_8), CLOCK), "clock-" + p, "clock");
                    }
                    nextClock = now + TimeUnit.MILLISECONDS.toNanos(100);
                }
                while (!paused && nextData <= now) {
                    sendData();
                    nextData += periodNanos;
                }
                if (paused) {
                    nextData = now;
                }
            } finally {
                sending.unlock();
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private void sendData() {
        String key = "k" + random.nextInt(keys);
        long n = ++seq;
        String value = random.nextInt(10) == 0 ? null
                : n % 400 == 0 ? randomLetters(2 * 1024 * 1024)
                : "v" + n + "-" + randomLetters(20 + random.nextInt(100));
        long t = time();
        lastDataTime = t;
        send(new ProducerRecord<>(topic, null, t, key.getBytes(StandardCharsets.UTF_8),
                value == null ? null : value.getBytes(StandardCharsets.UTF_8)), key, value);
    }

    private void send(ProducerRecord<byte[], byte[]> record, String key, String value) {
        producer.send(record, (metadata, e) -> {
            if (e != null) {
                failure.compareAndSet(null, e);
            }
        });
        sent.incrementAndGet();
        if (value == null) {
            oracle.remove(key);
        } else {
            oracle.put(key, value);
        }
    }

    private long time() {
        lastTime = Math.max(lastTime, System.currentTimeMillis());
        return lastTime;
    }

    private String randomLetters(int n) {
        char[] c = new char[n];
        for (int i = 0; i < n; i++) {
            c[i] = (char) ('a' + random.nextInt(26));
        }
        return new String(c);
    }

    void resume() {
        paused = false;
    }

    /**
     * Stops data commands (clock records go on), waits until every record sent so far is
     * acknowledged, and returns the oracle at this point with the time of the last data command.
     */
    Snapshot pause() {
        paused = true;
        sending.lock();
        try {
            producer.flush();
            Exception e = failure.get();
            if (e != null) {
                throw new IllegalStateException("the traffic's producer failed", e);
            }
            return new Snapshot(Map.copyOf(oracle), lastDataTime, seq, sent.get());
        } finally {
            sending.unlock();
        }
    }

    /** The oracle (key -> value of every live key) and what was sent up to a pause. */
    record Snapshot(Map<String, String> expected, long lastDataTime, long dataCommands, long records) {
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        thread.join();
    }
}
