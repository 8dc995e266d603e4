package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.schemas.DeadLetter;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.types.Either;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UpsertCommandDeserializerTest {
    private static final Schema V1 = schema("user-v1.avsc");
    private static final Schema V2 = schema("user-v2.avsc");
    private static final byte[] KEY = "k1".getBytes(StandardCharsets.UTF_8);
    private static final long TS = 1_700_000_001_234L;

    // ---- raw values, deletes, time ----

    @Test
    void rawValueBecomesCommandWithOrderKeyAndCoarsenedTime() {
        UpsertCommand c = command(ValueDecoder.raw(), record(KEY, bytes("hello"), TS));
        assertArrayEquals(KEY, c.key());
        assertEquals(UpsertValue.of(bytes("hello")), c.value());
        assertEquals(3, c.partition());
        assertEquals(42, c.offset());
        assertEquals(1_700_000_001_000L, c.time());
    }

    @Test
    void nullValueIsDelete() {
        UpsertCommand c = command(ValueDecoder.raw(), record(KEY, null, TS));
        assertTrue(c.isDelete());
        assertEquals(1_700_000_001_000L, c.time());
    }

    @Test
    void tickCoarseningFloorsEvenBelowZero() {
        UpsertCommandDeserializer d = new UpsertCommandDeserializer(ValueDecoder.raw(), 1000, new DeadLetters(1024 * 1024));
        assertEquals(0, d.coarsen(999));
        assertEquals(-1000, d.coarsen(-1));
        assertEquals(5000, d.coarsen(5000));
    }

    // ---- plain Avro ----

    @Test
    void avroWithSameSchemaKeepsTheBytes() {
        byte[] v = avro(V2, user(V2, "ann", 5L));
        UpsertCommand c = command(AvroValueDecoder.plain(V2, null, null), record(KEY, v, TS));
        assertArrayEquals(v, c.value().bytes());
        assertFalse(c.value().isError());
    }

    @Test
    void avroWriterSchemaIsResolvedAndReencodedInTheReaderSchema() {
        byte[] v1 = avro(V1, user(V1, "bob", null));
        UpsertCommand c = command(AvroValueDecoder.plain(V2, V1, null), record(KEY, v1, TS));
        GenericRecord read = readV2(c.value().bytes());
        assertEquals("bob", read.get("name").toString());
        assertEquals("unknown", read.get("email").toString());
    }

    @Test
    void timeFieldGivesTheTimeAndFallsBackToTheRecordTimestampWhenNull() {
        ValueDecoder d = AvroValueDecoder.plain(V2, null, "updatedAt");
        assertEquals(7_000, command(d, record(KEY, avro(V2, user(V2, "a", 7_777L)), TS)).time());
        assertEquals(1_700_000_001_000L, command(d, record(KEY, avro(V2, user(V2, "a", null)), TS)).time());
    }

    @Test
    void malformedAvroBecomesErrorValueWithRawBytes() {
        byte[] bad = {(byte) 0x99, 1, 2};
        UpsertCommand c = command(AvroValueDecoder.plain(V2, null, null), record(KEY, bad, TS));
        assertTrue(c.value().isError());
        assertArrayEquals(bad, c.value().bytes());
        assertTrue(c.value().error().startsWith("Avro decoding failed"), c.value().error());
    }

    @Test
    void trailingBytesAreAnError() {
        byte[] v = avro(V2, user(V2, "ann", 5L));
        byte[] longer = Arrays.copyOf(v, v.length + 2);
        UpsertValue value = command(AvroValueDecoder.plain(V2, null, null), record(KEY, longer, TS)).value();
        assertTrue(value.isError());
        assertTrue(value.error().contains("trailing bytes"), value.error());
    }

    @Test
    void randomBytesNeverThrow() {
        Random random = new Random(7);
        List<ValueDecoder> decoders = List.of(AvroValueDecoder.plain(V2, V1, "updatedAt"),
                AvroValueDecoder.singleObject(V2, List.of(V1), null), AvroValueDecoder.confluent(V2, Map.of(1, V1), null));
        for (ValueDecoder d : decoders) {
            d.open();
            for (int i = 0; i < 2000; i++) {
                byte[] b = new byte[random.nextInt(40)];
                random.nextBytes(b);
                UpsertValue v = d.decode(b);
                if (v.isError()) {
                    assertArrayEquals(b, v.bytes());
                }
            }
        }
    }

    @Test
    void hugeLengthPrefixIsAnErrorNotAnAllocation() {
        // a string field claiming 1,000,000,000 bytes (zig-zag varint) followed by nothing
        byte[] v = {(byte) 0x80, (byte) 0xA8, (byte) 0xD6, (byte) 0xB9, 0x07};
        long before = allocatedBytes();
        UpsertValue value = command(AvroValueDecoder.plain(V2, null, null), record(KEY, v, TS)).value();
        assertTrue(value.isError(), value.toString());
        assertTrue(allocatedBytes() - before < 100_000_000L, "no allocation of the claimed length");
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    // ---- single-object encoding ----

    @Test
    void singleObjectPicksTheWriterSchemaByFingerprint() {
        ValueDecoder d = AvroValueDecoder.singleObject(V2, List.of(V1), null);
        byte[] body2 = avro(V2, user(V2, "cy", 1L));
        UpsertCommand c2 = command(d, record(KEY, singleObject(V2, body2), TS));
        assertArrayEquals(body2, c2.value().bytes());
        UpsertCommand c1 = command(d, record(KEY, singleObject(V1, avro(V1, user(V1, "di", 2L))), TS));
        assertEquals("di", readV2(c1.value().bytes()).get("name").toString());
    }

    @Test
    void singleObjectErrors() {
        ValueDecoder d = AvroValueDecoder.singleObject(V2, List.of(), null);
        UpsertValue unknown = command(d, record(KEY, singleObject(V1, avro(V1, user(V1, "x", 1L))), TS)).value();
        assertTrue(unknown.error().startsWith("unknown writer schema fingerprint"), unknown.error());
        UpsertValue header = command(d, record(KEY, avro(V2, user(V2, "x", 1L)), TS)).value();
        assertTrue(header.error().startsWith("not Avro single-object encoding"), header.error());
    }

    // ---- Confluent wire format ----

    @Test
    void confluentPicksTheWriterSchemaById() {
        ValueDecoder d = AvroValueDecoder.confluent(V2, Map.of(11, V1, 12, V2), "updatedAt");
        UpsertCommand c = command(d, record(KEY, confluent(11, avro(V1, user(V1, "ed", 9_000L))), TS));
        assertEquals("ed", readV2(c.value().bytes()).get("name").toString());
        assertEquals(9_000, c.time());
        byte[] body = avro(V2, user(V2, "fay", null));
        assertArrayEquals(body, command(d, record(KEY, confluent(12, body), TS)).value().bytes());
    }

    @Test
    void confluentErrors() {
        ValueDecoder d = AvroValueDecoder.confluent(V2, Map.of(11, V1), null);
        assertEquals("unknown schema id 99", command(d, record(KEY, confluent(99, avro(V1, user(V1, "x", 1L))), TS)).value().error());
        assertTrue(command(d, record(KEY, bytes("{json}"), TS)).value().error().startsWith("not Confluent wire format"));
    }

    // ---- dead letters ----

    @Test
    void nullKeyIsDeadLetter() {
        DeadLetter dl = deadLetter(ValueDecoder.raw(), record(null, bytes("orphan"), TS));
        assertEquals("null key", dl.getReason());
        assertEquals("upserts", dl.getTopic());
        assertEquals(3, dl.getPartition());
        assertEquals(42, dl.getOffset());
        assertEquals(TS, dl.getTimestamp());
        assertNull(dl.getKey());
        assertArrayEquals(bytes("orphan"), array(dl.getValue()));
    }

    /**
     * long-key.jsonl: a 4,093-byte key passed ingestion (limit 4,096) and the store refused it
     * (limit 4,091), failing the sink again and again. One limit, the store's, checked here.
     */
    @Test
    void keyTheStoreWouldRefuseIsDeadLetter() {
        assertEquals(TieredStore.MAX_KEY_BYTES, UpsertCommandDeserializer.MAX_KEY_BYTES);
        byte[] big = new byte[4093];
        DeadLetter dl = deadLetter(ValueDecoder.raw(), record(big, null, TS));
        assertEquals("key of 4093 bytes is over the store's 4091-byte limit", dl.getReason());
        assertArrayEquals(big, array(dl.getKey()));
        assertNull(dl.getValue());
        assertFalse(outcome(ValueDecoder.raw(), record(new byte[4091], null, TS)).isRight());
    }

    /** A dead letter larger than the dead-letter topic takes is sent truncated, with the original sizes. */
    @Test
    void oversizedDeadLetterIsTruncatedWithItsOriginalSize() {
        byte[] key = new byte[5000];
        byte[] value = new byte[3 * 1024 * 1024];
        ConsumerRecord<byte[], byte[]> r = record(key, value, TS);
        byte[] encoded = new DeadLetters(1024 * 1024).encode(r, "key of 5000 bytes is over the store's 4091-byte limit");
        assertTrue(encoded.length <= 1024 * 1024, "dead letter of " + encoded.length + " bytes");
        DeadLetter dl = DeadLetters.decode(encoded);
        assertTrue(dl.getReason().startsWith("key of 5000 bytes is over the store's 4091-byte limit; value truncated from 3145728 to "),
                dl.getReason());
        assertArrayEquals(key, array(dl.getKey()));
        assertEquals(42, dl.getOffset());
    }

    @Test
    void recordWithoutUsableTimeIsDeadLetter() {
        DeadLetter dl = deadLetter(ValueDecoder.raw(), record(KEY, bytes("v"), -1));
        assertTrue(dl.getReason().startsWith("unreadable: no usable time"), dl.getReason());
        assertArrayEquals(KEY, array(dl.getKey()));
        // a time field rescues a record without timestamp
        ValueDecoder d = AvroValueDecoder.plain(V2, null, "updatedAt");
        assertEquals(3_000, command(d, record(KEY, avro(V2, user(V2, "a", 3_000L)), -1)).time());
    }

    /**
     * A new user's finding: a time field of -5, of 2^62 or past year 9999 was taken as the command's
     * time, and a huge one raised every later command of its partition to it. Outside 0 .. year 9999
     * (SPEC section 2: no usable time) the record is a dead letter, from the time field or the timestamp.
     */
    @Test
    void aTimeOutsideZeroToYear9999IsNoUsableTime() {
        ValueDecoder d = AvroValueDecoder.plain(V2, null, "updatedAt");
        for (long bad : new long[] {-5, 1L << 62, UpsertCommandDeserializer.MAX_TIME + 1}) {
            DeadLetter dl = deadLetter(d, record(KEY, avro(V2, user(V2, "a", bad)), TS));
            assertEquals("unreadable: no usable time (time field value " + bad + "; usable: 0 to 253402300799999, the end of year 9999)",
                    dl.getReason());
        }
        DeadLetter late = deadLetter(ValueDecoder.raw(), record(KEY, bytes("v"), UpsertCommandDeserializer.MAX_TIME + 1));
        assertTrue(late.getReason().startsWith("unreadable: no usable time (record timestamp 253402300800000;"), late.getReason());
        assertEquals(UpsertCommandDeserializer.MAX_TIME / 1000 * 1000,
                command(d, record(KEY, avro(V2, user(V2, "a", UpsertCommandDeserializer.MAX_TIME)), TS)).time());
    }

    // ---- configuration ----

    @Test
    void configurationBuildsTheDecoderFromSchemaFiles() {
        Configuration conf = new Configuration();
        conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, "localhost:9092");
        conf.set(KafkaIngestOptions.VALUE_FORMAT, ValueFormat.CONFLUENT);
        conf.set(KafkaIngestOptions.READER_SCHEMA, resource("user-v2.avsc"));
        conf.set(KafkaIngestOptions.CONFLUENT_SCHEMAS, Map.of("5", resource("user-v1.avsc")));
        conf.set(KafkaIngestOptions.TIME_FIELD, "updatedAt");
        conf.setString("kafka.properties.security.protocol", "PLAINTEXT");
        assertNotNull(KafkaCommandSource.builder().fromConfiguration(conf).build().kafkaSource());
    }

    @Test
    void wrongOptionsFailNamingTheOptionAndTheFix() {
        assertMessage("Option 'kafka.bootstrap-servers' is missing. Fix:", KafkaCommandSource.builder()::build);
        Configuration noReader = new Configuration();
        noReader.set(KafkaIngestOptions.VALUE_FORMAT, ValueFormat.AVRO);
        assertMessage("Option 'ingest.value.reader-schema' is missing", () -> KafkaCommandSource.builder().fromConfiguration(noReader));
        Configuration rawTime = new Configuration();
        rawTime.set(KafkaIngestOptions.TIME_FIELD, "ts");
        assertMessage("Option 'ingest.time-field' needs an Avro value format", () -> KafkaCommandSource.builder().fromConfiguration(rawTime));
        Configuration badField = new Configuration();
        badField.set(KafkaIngestOptions.VALUE_FORMAT, ValueFormat.AVRO);
        badField.set(KafkaIngestOptions.READER_SCHEMA, resource("user-v2.avsc"));
        badField.set(KafkaIngestOptions.TIME_FIELD, "name");
        assertMessage("Option 'ingest.time-field' does not fit", () -> KafkaCommandSource.builder().fromConfiguration(badField));
        Configuration missingFile = new Configuration();
        missingFile.set(KafkaIngestOptions.VALUE_FORMAT, ValueFormat.AVRO);
        missingFile.set(KafkaIngestOptions.READER_SCHEMA, "/nonexistent.avsc");
        assertMessage("Option 'ingest.value.reader-schema' names the unreadable file", () -> KafkaCommandSource.builder().fromConfiguration(missingFile));
    }

    // ---- helpers ----

    private static void assertMessage(String prefix, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith(prefix) && e.getMessage().contains("Fix: "), e.getMessage());
    }

    private static Either<UpsertCommand, byte[]> outcome(ValueDecoder decoder, ConsumerRecord<byte[], byte[]> record) {
        UpsertCommandDeserializer d = new UpsertCommandDeserializer(decoder, 1000, new DeadLetters(1024 * 1024));
        d.open((MetricGroup) null);
        List<Either<UpsertCommand, byte[]>> out = new ArrayList<>();
        d.deserialize(record, new Collector<>() {
            @Override
            public void collect(Either<UpsertCommand, byte[]> r) {
                out.add(r);
            }

            @Override
            public void close() {
            }
        });
        assertEquals(1, out.size());
        return out.get(0);
    }

    private static UpsertCommand command(ValueDecoder decoder, ConsumerRecord<byte[], byte[]> record) {
        return outcome(decoder, record).left();
    }

    private static DeadLetter deadLetter(ValueDecoder decoder, ConsumerRecord<byte[], byte[]> record) {
        return DeadLetters.decode(outcome(decoder, record).right());
    }

    private static ConsumerRecord<byte[], byte[]> record(byte[] key, byte[] value, long ts) {
        return new ConsumerRecord<>("upserts", 3, 42, ts, TimestampType.CREATE_TIME, -1, -1, key, value,
                new RecordHeaders(), Optional.empty());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] array(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    private static String resource(String name) {
        try {
            return Path.of(UpsertCommandDeserializerTest.class.getResource("/avro/" + name).toURI()).toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Schema schema(String name) {
        try (InputStream in = UpsertCommandDeserializerTest.class.getResourceAsStream("/avro/" + name)) {
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static GenericRecord user(Schema s, String name, Long updatedAt) {
        GenericRecord r = new GenericData.Record(s);
        r.put("name", name);
        r.put("updatedAt", updatedAt);
        if (s.getField("email") != null) {
            r.put("email", name + "@example.com");
        }
        return r;
    }

    private static byte[] avro(Schema s, GenericRecord r) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, null);
            new GenericDatumWriter<GenericRecord>(s).write(r, e);
            e.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static GenericRecord readV2(byte[] b) {
        try {
            return new GenericDatumReader<GenericRecord>(V2).read(null, DecoderFactory.get().binaryDecoder(b, null));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] singleObject(Schema writer, byte[] body) {
        return ByteBuffer.allocate(10 + body.length).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) 0xC3).put((byte) 0x01).putLong(SchemaNormalization.parsingFingerprint64(writer)).put(body).array();
    }

    private static byte[] confluent(int id, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) 0).putInt(id).put(body).array();
    }
}
