package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.avro.Schema;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.types.Either;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

import static io.upsertfeedback.connectors.kafka.KafkaIngestOptions.invalid;

/**
 * The ingestion stage: a {@link KafkaSource} of the upsert topic whose records become {@link
 * UpsertCommand}s (see {@link UpsertCommandDeserializer}), with per-partition watermarks (bounded
 * out-of-orderness on the command time, idle partitions released after a configurable idleness),
 * and a dead-letter branch: records that cannot be commands leave through the side output {@link
 * #DEAD_LETTERS} (Avro {@code DeadLetter} bytes) into the dead-letter topic.
 *
 * <pre>{@code
 * KafkaCommandSource source = KafkaCommandSource.builder()
 *         .bootstrapServers("localhost:9092").topic("upserts")
 *         .build();
 * SingleOutputStreamOperator<UpsertCommand> commands = source.addTo(env);
 * }</pre>
 *
 * <p>The source is split-aware: Flink generates a watermark per Kafka partition and the source's
 * watermark is the minimum over its non-idle partitions, which is the input frontier {@code I - 1}.
 */
public final class KafkaCommandSource {
    /** Dead letters: the Avro binary of {@code io.upsertfeedback.schemas.DeadLetter} records. */
    public static final OutputTag<byte[]> DEAD_LETTERS =
            new OutputTag<>("dead-letters", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    private final KafkaSource<Either<UpsertCommand, byte[]>> source;
    private final WatermarkStrategy<Either<UpsertCommand, byte[]>> watermarks;
    private final String deadLetterTopic;
    private final String bootstrapServers;
    private final Properties properties;

    private KafkaCommandSource(Builder b, KafkaSource<Either<UpsertCommand, byte[]>> source,
                               WatermarkStrategy<Either<UpsertCommand, byte[]>> watermarks) {
        this.source = source;
        this.watermarks = watermarks;
        this.deadLetterTopic = b.deadLetterTopic;
        this.bootstrapServers = b.bootstrapServers;
        this.properties = b.properties;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds the source, the dead-letter split and the dead-letter sink to {@code env}; returns the
     * commands (with their event times and watermarks). The dead letters are also available as
     * {@code result.getSideOutput(DEAD_LETTERS)}.
     */
    public SingleOutputStreamOperator<UpsertCommand> addTo(StreamExecutionEnvironment env) {
        SingleOutputStreamOperator<UpsertCommand> commands = env.fromSource(source, watermarks, "kafka-source")
                .uid("kafka-source")
                .process(new SplitDeadLetters(), UpsertCommandSerializer.TYPE_INFO)
                .name("commands")
                .uid("split-dead-letters");
        commands.getSideOutput(DEAD_LETTERS)
                .sinkTo(deadLetterSink())
                .name("dead-letters")
                .uid("dead-letter-sink");
        return commands;
    }

    /** The bare Kafka source (commands as {@code Left}, dead letters as {@code Right}). */
    public KafkaSource<Either<UpsertCommand, byte[]>> kafkaSource() {
        return source;
    }

    /** Per-partition watermarks on the command time; dead letters carry no time. */
    public WatermarkStrategy<Either<UpsertCommand, byte[]>> watermarkStrategy() {
        return watermarks;
    }

    private KafkaSink<byte[]> deadLetterSink() {
        return KafkaSink.<byte[]>builder()
                .setBootstrapServers(bootstrapServers)
                .setKafkaProducerConfig(properties)
                .setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(16 * 1024 * 1024))
                .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                .setRecordSerializer(new DeadLetterRecords(deadLetterTopic))
                .build();
    }

    /** Dead letters (already Avro bytes) as record values of the dead-letter topic. */
    private record DeadLetterRecords(String topic) implements KafkaRecordSerializationSchema<byte[]> {
        @Override
        public ProducerRecord<byte[], byte[]> serialize(byte[] deadLetter, KafkaSinkContext context, Long timestamp) {
            return new ProducerRecord<>(topic, deadLetter);
        }
    }

    /** Commands to the main output, dead letters to {@link #DEAD_LETTERS}. */
    private static final class SplitDeadLetters extends ProcessFunction<Either<UpsertCommand, byte[]>, UpsertCommand> {
        @Override
        public void processElement(Either<UpsertCommand, byte[]> record, Context ctx, Collector<UpsertCommand> out) {
            if (record.isLeft()) {
                out.collect(record.left());
            } else {
                ctx.output(DEAD_LETTERS, record.right());
            }
        }
    }

    /** Fluent builder; every setting has the default of its {@link KafkaIngestOptions} option. */
    public static final class Builder {
        private String bootstrapServers;
        private String topic = KafkaIngestOptions.TOPIC.defaultValue();
        private String groupId = KafkaIngestOptions.GROUP_ID.defaultValue();
        private String deadLetterTopic = KafkaIngestOptions.DEAD_LETTER_TOPIC.defaultValue();
        private final Properties properties = new Properties();
        private ValueDecoder valueDecoder = ValueDecoder.raw();
        private Duration tick = UpsertOptions.TICK.defaultValue();
        private Duration outOfOrderness = KafkaIngestOptions.OUT_OF_ORDERNESS.defaultValue();
        private Duration idleness = KafkaIngestOptions.IDLENESS.defaultValue();
        private OffsetsInitializer startingOffsets = OffsetsInitializer.earliest();
        private boolean bounded;

        private Builder() {
        }

        /**
         * Sets every option of {@link KafkaIngestOptions} from {@code config} (reading the schema
         * files it names) and the tick from {@link UpsertOptions#TICK}. A wrong option fails here,
         * naming the option and the fix.
         */
        public Builder fromConfiguration(Configuration config) {
            config.getOptional(KafkaIngestOptions.BOOTSTRAP_SERVERS).ifPresent(this::bootstrapServers);
            topic(config.get(KafkaIngestOptions.TOPIC));
            groupId(config.get(KafkaIngestOptions.GROUP_ID));
            deadLetterTopic(config.get(KafkaIngestOptions.DEAD_LETTER_TOPIC));
            tick(config.get(UpsertOptions.TICK));
            outOfOrderness(config.get(KafkaIngestOptions.OUT_OF_ORDERNESS));
            idleness(config.get(KafkaIngestOptions.IDLENESS));
            startingOffsets(switch (config.get(KafkaIngestOptions.STARTING_OFFSETS)) {
                case EARLIEST -> OffsetsInitializer.earliest();
                case COMMITTED -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
                case LATEST -> OffsetsInitializer.latest();
            });
            config.toMap().forEach((k, v) -> {
                if (k.startsWith(KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX)) {
                    property(k.substring(KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX.length()), v);
                }
            });
            valueDecoder(decoderFrom(config));
            return this;
        }

        private static ValueDecoder decoderFrom(Configuration config) {
            ValueFormat format = config.get(KafkaIngestOptions.VALUE_FORMAT);
            String timeField = config.getOptional(KafkaIngestOptions.TIME_FIELD).orElse(null);
            if (format == ValueFormat.RAW) {
                if (timeField != null) {
                    throw invalid(KafkaIngestOptions.TIME_FIELD, "needs an Avro value format",
                            "unset it, or set 'ingest.value.format' to AVRO, AVRO_SINGLE_OBJECT or CONFLUENT");
                }
                return ValueDecoder.raw();
            }
            Schema reader = schema(KafkaIngestOptions.READER_SCHEMA, config.getOptional(KafkaIngestOptions.READER_SCHEMA)
                    .orElseThrow(() -> invalid(KafkaIngestOptions.READER_SCHEMA, "is missing; the " + format + " format needs it",
                            "set it to the path of the reader schema's .avsc file")));
            try {
                AvroValueDecoder.checkTimeField(reader, timeField);
            } catch (IllegalArgumentException e) {
                throw invalid(KafkaIngestOptions.TIME_FIELD, "does not fit the reader schema: " + e.getMessage(),
                        "name a long or int field of the reader schema, or unset it");
            }
            List<Schema> writers = new ArrayList<>();
            for (String path : config.get(KafkaIngestOptions.WRITER_SCHEMAS)) {
                writers.add(schema(KafkaIngestOptions.WRITER_SCHEMAS, path));
            }
            return switch (format) {
                case AVRO -> {
                    if (writers.size() > 1) {
                        throw invalid(KafkaIngestOptions.WRITER_SCHEMAS, "lists " + writers.size() + " schemas; AVRO takes one",
                                "give only the schema the producers write with");
                    }
                    yield AvroValueDecoder.plain(reader, writers.isEmpty() ? null : writers.get(0), timeField);
                }
                case AVRO_SINGLE_OBJECT -> AvroValueDecoder.singleObject(reader, writers, timeField);
                case CONFLUENT -> {
                    Map<Integer, Schema> byId = new HashMap<>();
                    for (Map.Entry<String, String> e : config.get(KafkaIngestOptions.CONFLUENT_SCHEMAS).entrySet()) {
                        try {
                            byId.put(Integer.parseInt(e.getKey().trim()), schema(KafkaIngestOptions.CONFLUENT_SCHEMAS, e.getValue()));
                        } catch (NumberFormatException nfe) {
                            throw invalid(KafkaIngestOptions.CONFLUENT_SCHEMAS, "has the non-numeric id '" + e.getKey() + "'",
                                    "write it as id:path,id:path with numeric schema registry ids");
                        }
                    }
                    if (byId.isEmpty()) {
                        throw invalid(KafkaIngestOptions.CONFLUENT_SCHEMAS, "is empty; the CONFLUENT format needs it",
                                "map each schema registry id to its .avsc file, as id:path,id:path");
                    }
                    yield AvroValueDecoder.confluent(reader, byId, timeField);
                }
                case RAW -> throw new AssertionError();
            };
        }

        private static Schema schema(ConfigOption<?> option, String path) {
            try {
                return new Schema.Parser().parse(Files.readString(Path.of(path.trim())));
            } catch (IOException e) {
                throw invalid(option, "names the unreadable file '" + path + "' (" + e + ")", "point it at an existing .avsc file");
            } catch (RuntimeException e) {
                throw invalid(option, "names '" + path + "', which is not an Avro schema (" + e.getMessage() + ")",
                        "point it at a valid .avsc file");
            }
        }

        public Builder bootstrapServers(String bootstrapServers) {
            this.bootstrapServers = bootstrapServers;
            return this;
        }

        public Builder topic(String topic) {
            this.topic = topic;
            return this;
        }

        public Builder groupId(String groupId) {
            this.groupId = groupId;
            return this;
        }

        public Builder deadLetterTopic(String deadLetterTopic) {
            this.deadLetterTopic = deadLetterTopic;
            return this;
        }

        /** A Kafka client property for the consumer and the dead-letter producer. */
        public Builder property(String key, String value) {
            properties.setProperty(key, value);
            return this;
        }

        public Builder valueDecoder(ValueDecoder valueDecoder) {
            this.valueDecoder = Objects.requireNonNull(valueDecoder);
            return this;
        }

        /** Times are coarsened to multiples of {@code tick} (the operator's {@code upsert.tick}). */
        public Builder tick(Duration tick) {
            this.tick = tick;
            return this;
        }

        public Builder outOfOrderness(Duration outOfOrderness) {
            this.outOfOrderness = outOfOrderness;
            return this;
        }

        /** {@link Duration#ZERO} disables idleness detection. */
        public Builder idleness(Duration idleness) {
            this.idleness = idleness;
            return this;
        }

        public Builder startingOffsets(OffsetsInitializer startingOffsets) {
            this.startingOffsets = startingOffsets;
            return this;
        }

        /**
         * Starts each partition at a recorded position (partition -> first offset to read), e.g. the
         * positions stored with the persist frontier; partitions without one start at the earliest offset.
         */
        public Builder resumeFrom(Map<Integer, Long> positions) {
            Map<TopicPartition, Long> offsets = new HashMap<>();
            positions.forEach((p, o) -> offsets.put(new TopicPartition(topic, p), o));
            return startingOffsets(OffsetsInitializer.offsets(offsets, OffsetResetStrategy.EARLIEST));
        }

        /** Stops at the partitions' end offsets as of the start (the job's input then ends, I = +inf). */
        public Builder bounded() {
            this.bounded = true;
            return this;
        }

        public KafkaCommandSource build() {
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                throw invalid(KafkaIngestOptions.BOOTSTRAP_SERVERS, "is missing", "set it to the host:port list of your Kafka brokers");
            }
            if (topic == null || topic.isBlank()) {
                throw invalid(KafkaIngestOptions.TOPIC, "is empty", "set it to the upsert topic's name");
            }
            if (deadLetterTopic == null || deadLetterTopic.isBlank() || deadLetterTopic.equals(topic)) {
                throw invalid(KafkaIngestOptions.DEAD_LETTER_TOPIC, "is empty or equal to the upsert topic",
                        "set it to a separate topic for records that cannot be commands");
            }
            if (tick.toMillis() < 1) {
                throw invalid(UpsertOptions.TICK, "is " + tick, "set it to at least 1 ms");
            }
            if (outOfOrderness.isNegative()) {
                throw invalid(KafkaIngestOptions.OUT_OF_ORDERNESS, "is negative", "set it to 0 or more");
            }
            if (idleness.isNegative()) {
                throw invalid(KafkaIngestOptions.IDLENESS, "is negative", "set it to 0 (off) or more");
            }
            KafkaSourceBuilder<Either<UpsertCommand, byte[]>> kafka = KafkaSource.<Either<UpsertCommand, byte[]>>builder()
                    .setBootstrapServers(bootstrapServers)
                    .setTopics(topic)
                    .setGroupId(groupId)
                    .setProperties(properties)
                    .setStartingOffsets(startingOffsets)
                    .setDeserializer(new UpsertCommandDeserializer(valueDecoder, tick.toMillis()));
            if (bounded) {
                kafka.setBounded(OffsetsInitializer.latest());
            }
            WatermarkStrategy<Either<UpsertCommand, byte[]>> strategy = WatermarkStrategy
                    .<Either<UpsertCommand, byte[]>>forBoundedOutOfOrderness(outOfOrderness)
                    .withTimestampAssigner((record, kafkaTimestamp) -> record.isLeft() ? record.left().time() : Long.MIN_VALUE);
            if (!idleness.isZero()) {
                strategy = strategy.withIdleness(idleness);
            }
            return new KafkaCommandSource(this, kafka.build(), strategy);
        }
    }
}
