package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.kafka.ValueFormat;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.testing.DeadLetterTopic;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.schemas.DeadLetter;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The whole pipeline on one MiniCluster (RocksDB, checkpoints) with a real KRaft broker and the
 * Bigtable emulator: a few thousand Avro commands (updates, deletes, equal updates, values on both
 * sides of the tiered threshold, a malformed value, a null key). Once the persist frontier has
 * passed every input time the store must equal the oracle, the last command per key in offset
 * order; the malformed value is an error value there and the null key is a dead letter.
 */
class EndToEndTest {
    private static final int COMMANDS = 3000;
    private static final int KEYS = 200;
    private static final long T0 = 1_700_000_000_000L;

    /** The Bigtable client logs through java.util.logging: errors only (held here so the setting sticks). */
    private static final Logger GOOGLE_LOGS = Logger.getLogger("com.google");

    static {
        GOOGLE_LOGS.setLevel(Level.SEVERE);
    }

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @Test
    void storeEqualsTheLastCommandPerKey(@TempDir Path tmp) throws Exception {
        Path schemaFile = Path.of(EndToEndTest.class.getResource("/entity.avsc").toURI());
        Schema schema = new Schema.Parser().parse(schemaFile.toFile());
        try (EmbeddedKafka kafka = EmbeddedKafka.start(); EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            kafka.createTopic("e2e", 3);
            kafka.createTopic("e2e-dead", 1);
            Configuration conf = bigtable.storeConfig("e2e", tmp.resolve("long-term"));
            conf.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse("8kb"));
            conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            conf.set(KafkaIngestOptions.TOPIC, "e2e");
            conf.set(KafkaIngestOptions.DEAD_LETTER_TOPIC, "e2e-dead");
            conf.set(KafkaIngestOptions.VALUE_FORMAT, ValueFormat.AVRO);
            conf.set(KafkaIngestOptions.READER_SCHEMA, schemaFile.toString());
            conf.set(UpsertOptions.TICK, Duration.ofSeconds(1));
            conf.set(UpsertOptions.LEAD, Duration.ofSeconds(5));
            conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");

            Map<String, byte[]> oracle = new HashMap<>();
            byte[] malformed = {(byte) 0x99, 0x01, 0x02};
            long maxTs = produce(kafka, schema, oracle, malformed);

            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
            env.setParallelism(2);
            env.enableCheckpointing(500);
            Pipeline.build(env, conf, true);
            JobClient job = env.executeAsync("e2e");
            try {
                awaitFrontierPast(conf, job, Math.floorDiv(maxTs, 1000) * 1000);
                try (StoreHandle store = Stores.open(conf, "e2e-test")) {
                    Map<String, StoredEntry> contents = new HashMap<>();
                    store.store().snapshot().forEach((k, e) -> contents.put(new String(e.key(), StandardCharsets.UTF_8), e));
                    assertEquals(oracle.keySet(), contents.keySet());
                    for (Map.Entry<String, byte[]> expected : oracle.entrySet()) {
                        StoredEntry actual = contents.get(expected.getKey());
                        assertArrayEquals(expected.getValue(), actual.value().bytes(), expected.getKey());
                        assertEquals(expected.getKey().equals("bad"), actual.value().isError(), expected.getKey());
                    }
                    assertTrue(contents.get("bad").value().error().startsWith("Avro decoding failed"));
                    assertTrue(tombstones(store) > 0, "some values are in the long-term tier");
                    assertTrue(tombstones(store) < contents.size(), "some values are inline");
                }
                List<DeadLetter> letters = deadLetters(kafka, "e2e-dead", 1);
                assertEquals("null key", letters.get(0).getReason());
                assertEquals("e2e", letters.get(0).getTopic());
            } finally {
                if (!job.getJobStatus().get().isGloballyTerminalState()) {
                    job.cancel().get(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    /** Produces the commands; fills {@code oracle} with the last value per key; returns the largest timestamp. */
    private static long produce(EmbeddedKafka kafka, Schema schema, Map<String, byte[]> oracle, byte[] malformed) throws Exception {
        Random random = new Random(11);
        long ts = T0;
        try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
            for (int i = 0; i < COMMANDS; i++) {
                ts = T0 + i * 10L;
                String key = "key-" + random.nextInt(KEYS);
                double dice = random.nextDouble();
                byte[] value;
                if (dice < 0.15) {
                    value = null;
                } else if (dice < 0.25 && oracle.containsKey(key)) {
                    value = oracle.get(key); // an update to an equal value
                } else {
                    int size = dice < 0.30 ? 12_000 : 40;
                    value = entity(schema, key, i, size);
                }
                send(producer, key, value, ts, oracle);
            }
            send(producer, "bad", malformed, ts, oracle);
            producer.send(new ProducerRecord<>("e2e", null, ts, null, entity(schema, "orphan", 0, 10))).get();
        }
        return ts;
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String key, byte[] value, long ts,
                             Map<String, byte[]> oracle) throws Exception {
        producer.send(new ProducerRecord<>("e2e", null, ts, key.getBytes(StandardCharsets.UTF_8), value));
        if (value == null) {
            oracle.remove(key);
        } else {
            oracle.put(key, value);
        }
    }

    private static byte[] entity(Schema schema, String name, long revision, int payloadSize) throws IOException {
        GenericRecord r = new GenericData.Record(schema);
        r.put("name", name);
        r.put("revision", revision);
        byte[] payload = new byte[payloadSize];
        new Random(revision).nextBytes(payload);
        r.put("payload", ByteBuffer.wrap(payload));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(r, e);
        e.flush();
        return out.toByteArray();
    }

    private static void awaitFrontierPast(Configuration conf, JobClient job, long time) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (FeedbackSource.readFrontier(conf).p() <= time) {
            if (job.getJobStatus().get().isGloballyTerminalState()) {
                job.getJobExecutionResult().get();
                fail("the job ended before the persist frontier passed " + time);
            }
            if (System.nanoTime() > deadline) {
                fail("the persist frontier did not pass " + time + " in time: " + FeedbackSource.readFrontier(conf));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
    }

    private static long tombstones(StoreHandle store) throws Exception {
        long n = 0;
        try (CloseableIterator<StoredRow> rows = store.store().highVolume().scan(null)) {
            while (rows.hasNext()) {
                n += rows.next().state().kind() == RowState.Kind.TOMBSTONE ? 1 : 0;
            }
        }
        return n;
    }

    private static List<DeadLetter> deadLetters(EmbeddedKafka kafka, String topic, int expected) {
        List<DeadLetter> letters = DeadLetterTopic.read(kafka, topic, expected);
        assertNotNull(letters.get(0));
        assertFalse(letters.get(0).getReason().isEmpty());
        return letters;
    }
}
