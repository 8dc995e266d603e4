package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.kafka.DeadLetters;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The error collection is readable: {@code upsert errors} lists error values, {@code upsert dead-letters} the dead letters. */
class InspectTest {
    @Test
    void errorsListsOnlyErrorValuesWithTheirReasonAndSource(@TempDir Path dir) throws Exception {
        try (EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            Configuration conf = bigtable.storeConfig("t", dir);
            try (StoreHandle store = Stores.open(conf, "test")) {
                store.store().put(bytes("good"), UpsertValue.of(bytes("v")), 1_000, 0, 1);
                store.store().put(bytes("bad"), UpsertValue.error(new byte[] {0, 0, 0, 0, 9}, "unknown schema id 9"), 2_000, 1, 7);
            }
            StringWriter out = new StringWriter();
            assertEquals(1, Inspect.errors(conf, out));
            assertEquals("{\"key\":\"bad\",\"value_b64\":\"AAAAAAk=\",\"time\":2000,\"error\":\"unknown schema id 9\","
                    + "\"topic\":\"upserts\",\"partition\":1,\"offset\":7}\n", out.toString());
        }
    }

    @Test
    void deadLettersAreReadableLines() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopic("upserts-dead-letters", 1);
            ConsumerRecord<byte[], byte[]> record = new ConsumerRecord<>("upserts", 2, 40, bytes("x".repeat(5)), bytes("v"));
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                producer.send(new ProducerRecord<>("upserts-dead-letters", new DeadLetters(1 << 20).encode(record, "a reason"))).get();
            }
            Configuration conf = new Configuration();
            conf.setString("kafka.bootstrap-servers", kafka.bootstrapServers());
            StringWriter out = new StringWriter();
            assertEquals(1, Inspect.deadLetters(conf, out));
            assertEquals("{\"topic\":\"upserts\",\"partition\":2,\"offset\":40,\"timestamp\":-1,\"reason\":\"a reason\","
                    + "\"key\":\"xxxxx\",\"value\":\"v\"}\n", out.toString());
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
