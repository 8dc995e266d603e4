package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.DeadLetters;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.schemas.DeadLetter;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The error collection of SPEC section 2, for users: {@code upsert errors} lists the keys whose
 * stored value is an error value ({@link StoreDump}'s lines, with the reason and the record's
 * topic, partition and offset), and {@code upsert dead-letters} lists the dead-letter topic, one
 * JSON line per record: {@code {"topic", "partition", "offset", "timestamp", "reason", "key" |
 * "key_b64", "value" | "value_b64"}} (bytes as {@link JsonBytes}; a missing key or value is absent).
 * Both read the same options as {@code run}; {@code local} writes the dead letters of its run with
 * {@code --dead-letters-to FILE}.
 */
final class Inspect {
    private Inspect() {
    }

    /** {@code errors}: the store's error values; returns their number. */
    static int errors(Configuration conf, Writer out) throws Exception {
        try (StoreHandle store = Stores.open(conf, "errors")) {
            return StoreDump.write(store, conf.get(KafkaIngestOptions.TOPIC), true, out);
        }
    }

    /** {@code dead-letters}: the dead-letter topic from its start to its end as of now; returns their number. */
    static int deadLetters(Configuration conf, Writer out) throws IOException {
        String servers = conf.getOptional(KafkaIngestOptions.BOOTSTRAP_SERVERS).orElseThrow(() -> KafkaIngestOptions.invalid(
                KafkaIngestOptions.BOOTSTRAP_SERVERS, "is missing", "set it to the host:port list of your Kafka brokers"));
        String topic = conf.get(KafkaIngestOptions.DEAD_LETTER_TOPIC);
        Properties p = KafkaIngestOptions.clientProperties(conf);
        p.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.setProperty(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.setProperty(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        ObjectMapper json = new ObjectMapper();
        int count = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<PartitionInfo> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (partitions == null || partitions.isEmpty()) {
                throw KafkaIngestOptions.invalid(KafkaIngestOptions.DEAD_LETTER_TOPIC, "names the topic '" + topic
                        + "', which does not exist", "correct the option");
            }
            List<TopicPartition> assigned = partitions.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(assigned);
            consumer.seekToBeginning(assigned);
            Map<TopicPartition, Long> ends = consumer.endOffsets(assigned);
            while (assigned.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    DeadLetter letter = DeadLetters.decode(r.value());
                    ObjectNode line = json.createObjectNode().put("topic", letter.getTopic().toString())
                            .put("partition", letter.getPartition()).put("offset", letter.getOffset())
                            .put("timestamp", letter.getTimestamp()).put("reason", letter.getReason().toString());
                    if (letter.getKey() != null) {
                        JsonBytes.put(line, "key", bytes(letter.getKey()));
                    }
                    if (letter.getValue() != null) {
                        JsonBytes.put(line, "value", bytes(letter.getValue()));
                    }
                    out.write(json.writeValueAsString(line));
                    out.write('\n');
                    count++;
                }
            }
        }
        out.flush();
        return count;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] b = new byte[buffer.remaining()];
        buffer.duplicate().get(b);
        return b;
    }
}
