package io.upsertfeedback.connectors.kafka;

import java.io.Serializable;

/**
 * How an Avro value is framed in the record's bytes: which writer schema it names and where the
 * Avro body starts. One small class per framing ({@link PlainFraming}, {@link SingleObjectFraming},
 * {@link ConfluentFraming}); {@link AvroValueDecoder} does the rest (skip, read, re-encode).
 */
interface Framing extends Serializable {
    /** The header of a value: the writer schema's id and the body's first byte, or why there is none. */
    record Header(long writerId, int bodyStart, String error) {
        static Header of(long writerId, int bodyStart) {
            return new Header(writerId, bodyStart, null);
        }

        static Header invalid(String error) {
            return new Header(0, 0, error);
        }
    }

    /** Reads the header of {@code raw}; never throws. */
    Header read(byte[] raw);

    /** The error reason for a writer id no schema is known for. */
    String unknown(long writerId);
}
