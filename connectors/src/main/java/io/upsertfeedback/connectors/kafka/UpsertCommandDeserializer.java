package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.connectors.store.TieredStore;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.EitherTypeInfo;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.types.Either;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Turns each Kafka record into an {@link UpsertCommand} ({@code Left}) or, when it cannot be a
 * command at all, into a dead letter ({@code Right}: the Avro bytes made by {@link DeadLetters}).
 *
 * <p>A record becomes a command with its key bytes, its value decoded by the {@link ValueDecoder}
 * (a null value is a delete; a value that does not decode is an error value, still a command), its
 * order key {@code (partition, offset)} and its time: the value's time field when one is configured
 * and set, else the record timestamp, coarsened to the tick ({@code floor(t / tick) * tick}), so a
 * replay assigns every record the same time.
 *
 * <p>Dead-letter reasons (SPEC section 2): a null key; a key over {@value #MAX_KEY_BYTES} bytes, the
 * store's limit (one number, checked here at ingestion so the store never refuses a key); no usable
 * time (a record timestamp below 0 where the time must come from it). Metrics on the source's
 * group: {@code deadLetters} and {@code errorValues} (monitoring counts: after a failover they
 * also count the records read again).
 *
 * <p>Per record: one command object (plus the value bytes a decoder may re-encode), no reflection,
 * no Kryo: the produced type is an {@link EitherTypeInfo} of the command type and a byte array.
 */
public final class UpsertCommandDeserializer implements KafkaRecordDeserializationSchema<Either<UpsertCommand, byte[]>> {
    private static final long serialVersionUID = 1L;

    /**
     * Latest usable time (epoch ms): 9999-12-31T23:59:59.999Z. A time from 0 to this is usable (SPEC
     * section 2); any other, from the record timestamp or the time field, makes the record a dead
     * letter, so that no absurd time raises its partition's times for every later command.
     */
    public static final long MAX_TIME = 253_402_300_799_999L;

    /** Longest key accepted as a command: the store's limit. */
    public static final int MAX_KEY_BYTES = TieredStore.MAX_KEY_BYTES;

    private final ValueDecoder decoder;
    private final long tickMillis;
    private final DeadLetters deadLetters;

    private transient Counter deadLetterCount;
    private transient Counter errorValues;

    public UpsertCommandDeserializer(ValueDecoder decoder, long tickMillis, DeadLetters deadLetters) {
        if (tickMillis < 1) {
            throw new IllegalArgumentException("tick must be at least 1 ms, was " + tickMillis);
        }
        this.decoder = decoder;
        this.tickMillis = tickMillis;
        this.deadLetters = deadLetters;
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        open(context.getMetricGroup());
    }

    /** Opens outside a Flink source (tests, tools); {@code metrics} may be {@code null}. */
    public void open(MetricGroup metrics) {
        decoder.open();
        deadLetterCount = metrics == null ? new SimpleCounter() : metrics.counter("deadLetters");
        errorValues = metrics == null ? new SimpleCounter() : metrics.counter("errorValues");
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Either<UpsertCommand, byte[]>> out) {
        byte[] key = record.key();
        if (key == null) {
            out.collect(Either.Right(deadLetter(record, "null key")));
            return;
        }
        if (key.length > MAX_KEY_BYTES) {
            out.collect(Either.Right(deadLetter(record, "key of " + key.length + " bytes is over the store's "
                    + MAX_KEY_BYTES + "-byte limit")));
            return;
        }
        UpsertValue value = null;
        long time = Long.MIN_VALUE;
        if (record.value() != null) {
            value = decoder.decode(record.value());
            if (value.isError()) {
                errorValues.inc();
            }
            time = decoder.lastTime();
        }
        String source = "time field value ";
        if (time == Long.MIN_VALUE) {
            time = record.timestamp();
            source = "record timestamp ";
        }
        if (time < 0 || time > MAX_TIME) {
            out.collect(Either.Right(deadLetter(record, "unreadable: no usable time (" + source + time + "; usable: 0 to " + MAX_TIME
                    + ", the end of year 9999)")));
            return;
        }
        out.collect(Either.Left(new UpsertCommand(key, value, record.partition(), record.offset(), coarsen(time))));
    }

    /** {@code floor(time / tick) * tick}. */
    public long coarsen(long time) {
        return Math.floorDiv(time, tickMillis) * tickMillis;
    }

    private byte[] deadLetter(ConsumerRecord<byte[], byte[]> record, String reason) {
        deadLetterCount.inc();
        return deadLetters.encode(record, reason);
    }

    @Override
    public TypeInformation<Either<UpsertCommand, byte[]>> getProducedType() {
        return new EitherTypeInfo<>(UpsertCommandSerializer.TYPE_INFO, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
    }
}
