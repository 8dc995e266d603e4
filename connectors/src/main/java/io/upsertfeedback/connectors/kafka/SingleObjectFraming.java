package io.upsertfeedback.connectors.kafka;

/**
 * {@link ValueFormat#AVRO_SINGLE_OBJECT}: {@code C3 01}, the writer schema's 8-byte little-endian
 * CRC-64-AVRO fingerprint (the writer id), then the Avro body.
 */
enum SingleObjectFraming implements Framing {
    INSTANCE;

    @Override
    public Header read(byte[] raw) {
        if (raw.length < 10 || raw[0] != (byte) 0xC3 || raw[1] != (byte) 0x01) {
            return Header.invalid("not Avro single-object encoding: no 0xC3 0x01 header");
        }
        long fingerprint = 0;
        for (int i = 9; i >= 2; i--) {
            fingerprint = (fingerprint << 8) | (raw[i] & 0xFF);
        }
        return Header.of(fingerprint, 10);
    }

    @Override
    public String unknown(long writerId) {
        return "unknown writer schema fingerprint " + Long.toHexString(writerId);
    }
}
