package io.upsertfeedback.connectors.kafka;

import org.apache.avro.Schema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.upsertfeedback.connectors.kafka.KafkaIngestOptions.invalid;

/**
 * The factory of value decoders: one home for turning the {@link ValueFormat} options into a
 * {@link ValueDecoder} ({@link ValueDecoder#raw()}, or an {@link AvroValueDecoder} with the
 * {@link Framing} of the format). Adding a format touches {@link ValueFormat}, one framing or
 * decoder class and this factory, never the source.
 */
public final class ValueDecoders {
    private ValueDecoders() {
    }

    /**
     * The decoder of {@code ingest.value.format} with its schema options ({@code ingest.value.reader-schema},
     * {@code ingest.value.writer-schemas}, {@code ingest.value.confluent-schemas}, {@code ingest.time-field}),
     * reading the schema files they name. A wrong option fails here, naming the option and the fix.
     */
    public static ValueDecoder fromConfiguration(ReadableConfig config) {
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
}
