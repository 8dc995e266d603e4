package io.upsertfeedback.connectors.kafka;

/** {@link ValueFormat#CONFLUENT}: magic byte 0, the 4-byte big-endian schema registry id (the writer id), then the Avro body. */
enum ConfluentFraming implements Framing {
    INSTANCE;

    @Override
    public Header read(byte[] raw) {
        if (raw.length < 5 || raw[0] != 0) {
            return Header.invalid("not Confluent wire format: no magic byte 0 and 4-byte schema id");
        }
        return Header.of(((raw[1] & 0xFF) << 24) | ((raw[2] & 0xFF) << 16) | ((raw[3] & 0xFF) << 8) | (raw[4] & 0xFF), 5);
    }

    @Override
    public String unknown(long writerId) {
        return "unknown schema id " + writerId;
    }
}
