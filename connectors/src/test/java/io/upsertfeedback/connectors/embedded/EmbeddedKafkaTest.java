package io.upsertfeedback.connectors.embedded;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The embedded broker keeps every record of an upsert topic, whatever its time, and restarts on its data. */
class EmbeddedKafkaTest {
    /**
     * The dense input of issue 14 (record times in 2023) lost a fifth of its records: Kafka's
     * default retention (7 days, on record timestamps) deleted them under the reading source, and a
     * record an hour ahead of the clock made the broker refuse its batch.
     */
    @Test
    void upsertTopicsAreCompactedAndNothingIsDeletedByAgeOrRefusedForItsTime() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            kafka.createUpsertTopic("upserts", 2);
            kafka.createTopic("dead", 1);
            ConfigResource upserts = new ConfigResource(ConfigResource.Type.TOPIC, "upserts");
            ConfigResource dead = new ConfigResource(ConfigResource.Type.TOPIC, "dead");
            Map<ConfigResource, Config> configs = admin.describeConfigs(List.of(upserts, dead)).all().get();
            assertEquals("compact", configs.get(upserts).get("cleanup.policy").value());
            assertEquals(String.valueOf(Long.MAX_VALUE), configs.get(upserts).get("min.compaction.lag.ms").value());
            for (ConfigResource topic : List.of(upserts, dead)) {
                assertEquals("-1", configs.get(topic).get("retention.ms").value(), topic.name());
                assertEquals(String.valueOf(Long.MAX_VALUE), configs.get(topic).get("message.timestamp.after.max.ms").value(), topic.name());
            }
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                long farFuture = System.currentTimeMillis() + 365L * 24 * 3600 * 1000;
                producer.send(new ProducerRecord<>("upserts", 0, farFuture, bytes("k"), bytes("v"))).get();
                producer.send(new ProducerRecord<>("upserts", 0, 1_700_000_000_000L, bytes("k"), bytes("old"))).get();
            }
            assertEquals(Map.of(0, 2L, 1, 0L), kafka.endOffsets("upserts"));
        }
    }

    @Test
    void restartsOnItsData(@TempDir Path dir) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.startKeeping(dir)) {
            kafka.createUpsertTopic("upserts", 1);
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                for (int i = 0; i < 3; i++) {
                    producer.send(new ProducerRecord<>("upserts", bytes("k" + i), bytes("v" + i))).get();
                }
            }
        }
        try (EmbeddedKafka again = EmbeddedKafka.startKeeping(dir)) {
            again.createUpsertTopic("upserts", 1); // exists: left as it is
            assertEquals(Map.of(0, 3L), again.endOffsets("upserts"));
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
