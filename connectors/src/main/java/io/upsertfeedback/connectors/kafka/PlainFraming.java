package io.upsertfeedback.connectors.kafka;

/** {@link ValueFormat#AVRO}: no header, the whole value is the Avro body of the one writer schema (id 0). */
enum PlainFraming implements Framing {
    INSTANCE;

    @Override
    public Header read(byte[] raw) {
        return Header.of(0, 0);
    }

    @Override
    public String unknown(long writerId) {
        return "unknown writer schema " + writerId;
    }
}
