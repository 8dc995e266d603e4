package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.types.Either;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
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
 * DeadLetters#OUTPUT_TAG} (Avro {@code DeadLetter} bytes) into the dead-letter topic.
 *
 * <p>Transactions: the consumer reads with {@code isolation.level=read_committed} (SPEC section 2:
 * records of aborted transactions are never applied) unless {@code kafka.properties.isolation.level}
 * says otherwise.
 *
 * <p>Counting (SPEC section 3, invariant 11): the operator {@value #COMMANDS_NAME} counts the
 * commands and dead letters it passed on in the counters {@value #COMMANDS_READ} and {@value
 * #DEAD_LETTERS_READ}. Unlike Flink's own record counters, these are part of the checkpoint: a
 * restored subtask resumes the count of the checkpoint its source offsets come from, so the latest
 * attempt of every subtask together counts each record read exactly once, failovers included.
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
    /** Name of the Kafka source operator (its records read are Flink's {@code numRecordsOut}). */
    public static final String SOURCE_NAME = "kafka-source";
    /** Name of the operator that splits commands from dead letters; its output watermark is {@code I - 1}. */
    public static final String COMMANDS_NAME = "commands";
    /** Counter of {@value #COMMANDS_NAME}: commands read, restored with checkpoints (exact per latest attempt). */
    public static final String COMMANDS_READ = "commandsRead";
    /** Counter of {@value #COMMANDS_NAME}: dead letters, restored with checkpoints (exact per latest attempt). */
    public static final String DEAD_LETTERS_READ = "deadLettersRead";

    private final KafkaSource<Either<UpsertCommand, byte[]>> source;
    private final WatermarkStrategy<Either<UpsertCommand, byte[]>> watermarks;
    private final String deadLetterTopic;
    private final String bootstrapServers;
    private final Properties properties;
    private final DeadLetters deadLetters;

    private KafkaCommandSource(Builder b, KafkaSource<Either<UpsertCommand, byte[]>> source,
                               WatermarkStrategy<Either<UpsertCommand, byte[]>> watermarks, DeadLetters deadLetters) {
        this.source = source;
        this.watermarks = watermarks;
        this.deadLetterTopic = b.deadLetterTopic;
        this.bootstrapServers = b.bootstrapServers;
        this.properties = b.properties;
        this.deadLetters = deadLetters;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds the source, the dead-letter split and the dead-letter sink to {@code env}; returns the
     * commands (with their event times and watermarks). The dead letters are also available as
     * {@code result.getSideOutput(DeadLetters.OUTPUT_TAG)}.
     */
    public SingleOutputStreamOperator<UpsertCommand> addTo(StreamExecutionEnvironment env) {
        SingleOutputStreamOperator<UpsertCommand> commands = env.fromSource(source, watermarks, SOURCE_NAME)
                .uid("kafka-source")
                .process(new SplitDeadLetters(), UpsertCommandSerializer.TYPE_INFO)
                .name(COMMANDS_NAME)
                .uid("split-dead-letters");
        commands.getSideOutput(DeadLetters.OUTPUT_TAG)
                .sinkTo(deadLetters.sink(bootstrapServers, properties, deadLetterTopic))
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

    /**
     * Commands to the main output, dead letters to {@link DeadLetters#OUTPUT_TAG}; counts both in
     * counters that are restored with the checkpoint (see the class comment).
     */
    private static final class SplitDeadLetters extends ProcessFunction<Either<UpsertCommand, byte[]>, UpsertCommand>
            implements CheckpointedFunction {
        private transient ListState<Long> commandsState;
        private transient ListState<Long> deadLettersState;
        private transient Counter commands;
        private transient Counter deadLetters;

        @Override
        public void initializeState(FunctionInitializationContext context) throws Exception {
            commandsState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(COMMANDS_READ, Long.class));
            deadLettersState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(DEAD_LETTERS_READ, Long.class));
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            commands = getRuntimeContext().getMetricGroup().counter(COMMANDS_READ);
            deadLetters = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS_READ);
            commandsState.get().forEach(commands::inc);
            deadLettersState.get().forEach(deadLetters::inc);
        }

        @Override
        public void processElement(Either<UpsertCommand, byte[]> record, Context ctx, Collector<UpsertCommand> out) {
            if (record.isLeft()) {
                commands.inc();
                out.collect(record.left());
            } else {
                deadLetters.inc();
                ctx.output(DeadLetters.OUTPUT_TAG, record.right());
            }
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) throws Exception {
            commandsState.update(List.of(commands.getCount()));
            deadLettersState.update(List.of(deadLetters.getCount()));
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
        private int deadLetterMaxBytes = (int) KafkaIngestOptions.DEAD_LETTER_MAX_BYTES.defaultValue().getBytes();
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
            long maxBytes = config.get(KafkaIngestOptions.DEAD_LETTER_MAX_BYTES).getBytes();
            if (maxBytes < 4096 || maxBytes > Integer.MAX_VALUE / 2) {
                throw invalid(KafkaIngestOptions.DEAD_LETTER_MAX_BYTES, "is " + maxBytes + " bytes",
                        "set it to the dead-letter topic's max.message.bytes (at least 4kb)");
            }
            deadLetterMaxBytes((int) maxBytes);
            tick(config.get(UpsertOptions.TICK));
            outOfOrderness(config.get(KafkaIngestOptions.OUT_OF_ORDERNESS));
            idleness(config.get(KafkaIngestOptions.IDLENESS));
            startingOffsets(switch (config.get(KafkaIngestOptions.STARTING_OFFSETS)) {
                case EARLIEST -> OffsetsInitializer.earliest();
                case COMMITTED -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
                case LATEST -> OffsetsInitializer.latest();
            });
            KafkaIngestOptions.clientProperties(config).forEach((k, v) -> property((String) k, (String) v));
            valueDecoder(ValueDecoders.fromConfiguration(config));
            return this;
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

        /** Largest dead letter (bytes); larger ones are truncated, see {@link DeadLetters}. */
        public Builder deadLetterMaxBytes(int deadLetterMaxBytes) {
            this.deadLetterMaxBytes = deadLetterMaxBytes;
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
            DeadLetters deadLetters = new DeadLetters(deadLetterMaxBytes);
            KafkaSourceBuilder<Either<UpsertCommand, byte[]>> kafka = KafkaSource.<Either<UpsertCommand, byte[]>>builder()
                    .setBootstrapServers(bootstrapServers)
                    .setTopics(topic)
                    .setGroupId(groupId)
                    .setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")
                    .setProperties(properties)
                    .setStartingOffsets(startingOffsets)
                    .setDeserializer(new UpsertCommandDeserializer(valueDecoder, tick.toMillis(), deadLetters));
            if (bounded) {
                kafka.setBounded(OffsetsInitializer.latest());
            }
            WatermarkStrategy<Either<UpsertCommand, byte[]>> strategy = WatermarkStrategy
                    .<Either<UpsertCommand, byte[]>>forBoundedOutOfOrderness(outOfOrderness)
                    .withTimestampAssigner((record, kafkaTimestamp) -> record.isLeft() ? record.left().time() : Long.MIN_VALUE);
            if (!idleness.isZero()) {
                strategy = strategy.withIdleness(idleness);
            }
            return new KafkaCommandSource(this, kafka.build(), strategy, deadLetters);
        }
    }
}
