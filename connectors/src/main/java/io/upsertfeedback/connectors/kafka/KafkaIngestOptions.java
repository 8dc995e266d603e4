package io.upsertfeedback.connectors.kafka;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.DescribedEnum;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.description.InlineElement;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.apache.flink.configuration.description.TextElement.text;

/**
 * The options of Kafka ingestion, read from {@code flink-conf/config.yaml} or the command line by
 * {@link KafkaCommandSource.Builder#fromConfiguration}. Any key under {@value #KAFKA_PROPERTIES_PREFIX}
 * is passed to the Kafka consumer and the dead-letter producer as it is (security settings, etc.).
 */
public final class KafkaIngestOptions {
    /** Keys under this prefix are Kafka client properties, e.g. {@code kafka.properties.security.protocol}. */
    public static final String KAFKA_PROPERTIES_PREFIX = "kafka.properties.";

    /**
     * The Kafka client properties a user set under {@value #KAFKA_PROPERTIES_PREFIX}, with the
     * prefix removed (e.g. {@code security.protocol}); the same for every client the job creates.
     */
    public static Properties clientProperties(Configuration config) {
        Properties p = new Properties();
        config.toMap().forEach((k, v) -> {
            if (k.startsWith(KAFKA_PROPERTIES_PREFIX)) {
                p.setProperty(k.substring(KAFKA_PROPERTIES_PREFIX.length()), v);
            }
        });
        return p;
    }

    /** Where a job without recorded source positions starts reading. */
    public enum StartingOffsets implements DescribedEnum {
        EARLIEST("The earliest offset of every partition."),
        COMMITTED("The consumer group's committed offsets; earliest where there is none."),
        LATEST("The end of every partition: only records produced from now on.");

        private final String description;

        StartingOffsets(String description) {
            this.description = description;
        }

        @Override
        public InlineElement getDescription() {
            return text(description);
        }
    }

    public static final ConfigOption<String> BOOTSTRAP_SERVERS = ConfigOptions.key("kafka.bootstrap-servers")
            .stringType().noDefaultValue()
            .withDescription("Kafka bootstrap servers (host:port,...) of the upsert topic. Required by `run`.");

    public static final ConfigOption<String> TOPIC = ConfigOptions.key("kafka.topic")
            .stringType().defaultValue("upserts")
            .withDescription("The upsert topic: key -> latest value, a null value deletes the key.");

    public static final ConfigOption<String> GROUP_ID = ConfigOptions.key("kafka.group-id")
            .stringType().defaultValue("upsert-feedback")
            .withDescription("Consumer group id; the source commits its offsets there on checkpoints (for monitoring).");

    public static final ConfigOption<StartingOffsets> STARTING_OFFSETS = ConfigOptions.key("kafka.starting-offsets")
            .enumType(StartingOffsets.class).defaultValue(StartingOffsets.EARLIEST)
            .withDescription("Where to start on a new store (one no job has written to) without a checkpoint. On a store a job "
                    + "has written to, the source starts at the positions recorded with its persist frontier, and a "
                    + "partition without one at its earliest offset.");

    public static final ConfigOption<String> DEAD_LETTER_TOPIC = ConfigOptions.key("ingest.dead-letter.topic")
            .stringType().defaultValue("upserts-dead-letters")
            .withDescription("Topic that receives records that cannot be commands (null key, key over the store's limit of "
                    + "4091 bytes, no usable time), as Avro DeadLetter records.");

    public static final ConfigOption<MemorySize> DEAD_LETTER_MAX_BYTES = ConfigOptions.key("ingest.dead-letter.max-bytes")
            .memoryType().defaultValue(MemorySize.parse("1mb"))
            .withDescription("Largest dead letter sent: the dead-letter topic's max.message.bytes (Kafka's default is 1 MiB). "
                    + "A dead letter of a larger record keeps the head of its key and value, and its reason gives the original sizes.");

    public static final ConfigOption<ValueFormat> VALUE_FORMAT = ConfigOptions.key("ingest.value.format")
            .enumType(ValueFormat.class).defaultValue(ValueFormat.RAW)
            .withDescription("How record values are decoded. Values that do not decode become error values.");

    public static final ConfigOption<String> READER_SCHEMA = ConfigOptions.key("ingest.value.reader-schema")
            .stringType().noDefaultValue()
            .withDescription("Path of the .avsc file of the reader schema; required by the Avro formats. "
                    + "Decoded values are stored as plain Avro binary in this schema.");

    public static final ConfigOption<List<String>> WRITER_SCHEMAS = ConfigOptions.key("ingest.value.writer-schemas")
            .stringType().asList().defaultValues()
            .withDescription("Paths of .avsc files of writer schemas (`;`-separated). AVRO: at most one, the schema producers "
                    + "write with (schema evolution); AVRO_SINGLE_OBJECT: every writer schema besides the reader schema.");

    public static final ConfigOption<Map<String, String>> CONFLUENT_SCHEMAS = ConfigOptions.key("ingest.value.confluent-schemas")
            .mapType().defaultValue(Map.of())
            .withDescription("CONFLUENT: schema registry id -> .avsc file of that schema, as `id:path,id:path`.");

    public static final ConfigOption<String> TIME_FIELD = ConfigOptions.key("ingest.time-field")
            .stringType().noDefaultValue()
            .withDescription("Name of a long (epoch millis) field of the Avro value that gives the command's time. "
                    + "Unset, or null in a record, or the value is a delete or an error: the Kafka record timestamp. "
                    + "A time outside 0 .. the end of year 9999 (from either) makes the record a dead letter (no usable time).");

    public static final ConfigOption<Duration> OUT_OF_ORDERNESS = ConfigOptions.key("ingest.watermark.out-of-orderness")
            .durationType().defaultValue(Duration.ZERO)
            .withDescription("How far times may go backwards within a partition before a command counts as late "
                    + "(a late command is still applied, at the earliest open time).");

    public static final ConfigOption<Duration> IDLENESS = ConfigOptions.key("ingest.watermark.idleness")
            .durationType().defaultValue(Duration.ofSeconds(5))
            .withDescription("A partition without records for this long stops holding back the input frontier. 0 disables.");

    private KafkaIngestOptions() {
    }

    /** The error for a wrong or missing option: names the option, the problem and the fix. */
    public static IllegalArgumentException invalid(ConfigOption<?> option, String problem, String fix) {
        return new IllegalArgumentException("Option '" + option.key() + "' " + problem + ". Fix: " + fix);
    }
}
