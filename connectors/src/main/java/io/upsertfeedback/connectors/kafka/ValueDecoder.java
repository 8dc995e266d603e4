package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.operators.UpsertValue;

import java.io.Serializable;

/**
 * Turns the bytes of a Kafka record value into an {@link UpsertValue}. A value that does not decode
 * becomes an error value ({@link UpsertValue#error}) carrying the raw bytes and the reason: decoding
 * never throws.
 *
 * <p>An instance is used by one thread (one source reader) and may keep reusable buffers, created in
 * {@link #open()}; the serialized form holds only configuration.
 */
public interface ValueDecoder extends Serializable {

    /** Prepares the per-instance buffers; called once before the first {@link #decode}. */
    default void open() {
    }

    /** Decodes one value (never {@code null}: deletes do not reach a decoder). */
    UpsertValue decode(byte[] raw);

    /**
     * The time field of the value last decoded, or {@link Long#MIN_VALUE} when there is none (no
     * time field configured, the field is null, or the value did not decode).
     */
    default long lastTime() {
        return Long.MIN_VALUE;
    }

    /** The value bytes are the value. */
    static ValueDecoder raw() {
        return Raw.INSTANCE;
    }

    /** The decoder of {@link ValueFormat#RAW}: the bytes as they are. */
    enum Raw implements ValueDecoder {
        INSTANCE;

        @Override
        public UpsertValue decode(byte[] raw) {
            return UpsertValue.of(raw);
        }
    }
}
