package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code produce}: the load generator ({@link LoadGenerator}) against a real broker
 * ({@code kafka.bootstrap-servers}, {@code kafka.topic}, {@code kafka.properties.*}); prints what it
 * sent every five seconds and at the end. Ctrl-C stops it after flushing what was sent.
 */
final class Produce {
    private Produce() {
    }

    static void run(Configuration conf) throws Exception {
        String servers = conf.getOptional(KafkaIngestOptions.BOOTSTRAP_SERVERS).orElseThrow(() -> KafkaIngestOptions.invalid(
                KafkaIngestOptions.BOOTSTRAP_SERVERS, "is missing", "pass -Dkafka.bootstrap-servers=host:port"));
        String topic = conf.get(KafkaIngestOptions.TOPIC);
        LoadGenerator generator = new LoadGenerator(conf);
        // an unreachable broker or a missing topic: one clear line within 20 s, not "sent" lines and a
        // producer's timeout after 60 s (a new user's finding)
        StartupCheck.kafka(conf);
        Properties props = producerProperties(conf, servers);
        CountDownLatch done = new CountDownLatch(1);
        AtomicBoolean stop = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.set(true);
            awaitQuietly(done);
        }));
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            System.out.println("producing to " + topic + " at " + servers);
            LoadGenerator.Stats stats = generator.run(producer, topic, stop::get, TimeUnit.SECONDS.toNanos(5),
                    s -> System.out.println("sent " + s));
            System.out.println("done: sent " + stats);
        } finally {
            done.countDown();
        }
    }

    /** Byte-array producer settings: idempotent, large records allowed, plus {@code kafka.properties.*}. */
    static Properties producerProperties(Configuration conf, String servers) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(conf.get(JobOptions.PRODUCE_LARGE_VALUE_SIZE).getBytes() + 1024 * 1024));
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.putAll(KafkaIngestOptions.clientProperties(conf));
        return p;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
