package io.upsertfeedback.bench.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes a {@link Workload} to its topic with an idempotent producer (the default partitioner picks
 * the partition from the key). {@link #load} writes as fast as the broker takes it, with the
 * workload's record times ({@link Workload#timeOffset}: by default one millisecond apart) from a
 * whole second ending before now (so they are tick-aligned and never beyond the broker's
 * future-timestamp limit); {@link #produceLive} paces the records at a fixed rate with their send
 * time as timestamp, for the latency run.
 */
public final class Loader {
    private Loader() {
    }

    public static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
    }

    /** A loaded topic: the time of its first record (the values carry their times) and what the contenders must produce. */
    public record Loaded(long firstTimestamp, Workload.Expected expected) {
    }

    /** Creates the topic and loads the whole workload. */
    public static Loaded load(String bootstrap, Workload workload) throws Exception {
        createTopic(bootstrap, workload.topic(), workload.partitions());
        long lastOffset = workload.timeOffset(Math.max(0, workload.commands() - 1));
        long firstTimestamp = Math.floorDiv(System.currentTimeMillis() - lastOffset - 1, Workload.TIMESTAMP_ALIGNMENT)
                * Workload.TIMESTAMP_ALIGNMENT;
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            Workload.Generator g = workload.generator();
            for (long i = 0; i < workload.commands(); i++) {
                g.next();
                long timestamp = firstTimestamp + workload.timeOffset(i);
                producer.send(new ProducerRecord<>(workload.topic(), null, timestamp, g.key(), g.value(timestamp)));
            }
            producer.flush();
        }
        return new Loaded(firstTimestamp, workload.expected());
    }

    /** Sends the workload (topic already created) at {@code perSecond} records per second. */
    public static void produceLive(String bootstrap, Workload workload, int perSecond) {
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            Workload.Generator g = workload.generator();
            long start = System.nanoTime();
            for (long i = 0; i < workload.commands(); i++) {
                long due = start + i * TimeUnit.SECONDS.toNanos(1) / perSecond;
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
                g.next();
                long now = System.currentTimeMillis();
                producer.send(new ProducerRecord<>(workload.topic(), null, now, g.key(), g.value(now)));
            }
            producer.flush();
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true",
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, "10",
                ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(256 * 1024)));
    }
}
