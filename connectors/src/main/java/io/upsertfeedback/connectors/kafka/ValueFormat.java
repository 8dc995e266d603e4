package io.upsertfeedback.connectors.kafka;

import org.apache.flink.configuration.DescribedEnum;
import org.apache.flink.configuration.description.InlineElement;

import static org.apache.flink.configuration.description.TextElement.text;

/** How the bytes of a Kafka record value are framed and decoded (option {@code ingest.value.format}). */
public enum ValueFormat implements DescribedEnum {
    RAW("The value bytes are the value; nothing is decoded."),
    AVRO("Avro binary (no header) against the reader schema; with a writer schema, resolved from it."),
    AVRO_SINGLE_OBJECT("Avro single-object encoding: 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO fingerprint, "
            + "then Avro binary; the fingerprint picks the writer schema among the reader and the given writer schemas."),
    CONFLUENT("Confluent Schema Registry wire format: magic byte 0, 4-byte big-endian schema id, then Avro binary; "
            + "the id picks the writer schema from the id-to-schema files.");

    private final String description;

    ValueFormat(String description) {
        this.description = description;
    }

    @Override
    public InlineElement getDescription() {
        return text(description);
    }
}
