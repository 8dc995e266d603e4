package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.schemas.DeadLetter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Properties;

/**
 * Records that cannot be commands (SPEC section 2: a null key, a key over the store's limit, no
 * usable time): their one home. A dead letter is the Avro binary of {@link DeadLetter} (source
 * topic, partition, offset, record timestamp, reason, raw key and value bytes); it leaves the
 * pipeline through the side output {@link #OUTPUT_TAG} into the dead-letter topic ({@link #sink}).
 *
 * <p>Size: a dead letter is at most {@code maxBytes} long (option {@code ingest.dead-letter.max-bytes},
 * Kafka's default record limit of 1 MiB), so the dead-letter topic always takes it. A record too
 * large for that keeps the head of its key and value, and the reason says so with the original
 * sizes ({@code "...; value truncated from 3145728 to 1047000 bytes"}): a truncated dead letter
 * is sent, never an oversized one that would fail the sink and restart the job in a loop.
 */
public final class DeadLetters implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The side output of dead letters (Avro {@link DeadLetter} bytes). */
    public static final OutputTag<byte[]> OUTPUT_TAG =
            new OutputTag<>("dead-letters", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    /** Room for the Avro fields other than key and value (topic names up to 249 chars, reason text). */
    private static final int ENVELOPE_BYTES = 2048;

    private final int maxBytes;
    private transient SpecificDatumWriter<DeadLetter> writer;

    /** Dead letters of at most {@code maxBytes} bytes (at least 4 KiB). */
    public DeadLetters(int maxBytes) {
        if (maxBytes < 2 * ENVELOPE_BYTES) {
            throw new IllegalArgumentException("dead letters need at least " + 2 * ENVELOPE_BYTES + " bytes, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /** The Avro bytes of a dead letter for {@code record}, truncated to fit {@code maxBytes}. */
    public byte[] encode(ConsumerRecord<byte[], byte[]> record, String reason) {
        byte[] key = record.key();
        byte[] value = record.value();
        int budget = maxBytes - ENVELOPE_BYTES;
        StringBuilder why = new StringBuilder(reason);
        if (length(key) > budget) {
            why.append("; key truncated from ").append(key.length).append(" to ").append(budget).append(" bytes");
            key = Arrays.copyOf(key, budget);
        }
        int valueBudget = budget - length(key);
        if (length(value) > valueBudget) {
            why.append("; value truncated from ").append(value.length).append(" to ").append(valueBudget).append(" bytes");
            value = Arrays.copyOf(value, valueBudget);
        }
        DeadLetter letter = DeadLetter.newBuilder()
                .setTopic(record.topic())
                .setPartition(record.partition())
                .setOffset(record.offset())
                .setTimestamp(record.timestamp())
                .setReason(why.toString())
                .setKey(key == null ? null : ByteBuffer.wrap(key))
                .setValue(value == null ? null : ByteBuffer.wrap(value))
                .build();
        if (writer == null) {
            writer = new SpecificDatumWriter<>(DeadLetter.class);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(bytes, null);
        try {
            writer.write(letter, encoder);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Reads back a dead letter (a record value of the dead-letter topic). */
    public static DeadLetter decode(byte[] avro) {
        try {
            return new SpecificDatumReader<>(DeadLetter.class).read(null, DecoderFactory.get().binaryDecoder(avro, null));
        } catch (IOException e) {
            throw new UncheckedIOException("not a DeadLetter record", e);
        }
    }

    /**
     * The sink of the dead-letter topic: at least once (a dead letter may be repeated after a
     * failover, never lost), with the consumer's client {@code properties} (security settings).
     */
    public KafkaSink<byte[]> sink(String bootstrapServers, Properties properties, String topic) {
        return KafkaSink.<byte[]>builder()
                .setBootstrapServers(bootstrapServers)
                .setKafkaProducerConfig(properties)
                .setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(maxBytes + ENVELOPE_BYTES))
                .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                .setRecordSerializer(new Records(topic))
                .build();
    }

    private static int length(byte[] bytes) {
        return bytes == null ? 0 : bytes.length;
    }

    /** Dead letters (already Avro bytes) as record values of the dead-letter topic. */
    private record Records(String topic) implements KafkaRecordSerializationSchema<byte[]> {
        @Override
        public ProducerRecord<byte[], byte[]> serialize(byte[] deadLetter, KafkaSinkContext context, Long timestamp) {
            return new ProducerRecord<>(topic, deadLetter);
        }
    }
}
