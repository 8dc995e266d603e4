package io.upsertfeedback.operators;

import java.util.Arrays;
import java.util.Objects;

/**
 * A value of the collection: either decoded value bytes, or an <em>error value</em> (the raw bytes
 * that failed to decode plus the reason). Error values are stored, emitted and retracted exactly
 * like good values (SPEC section 2), so a later good value or a delete retracts them. A delete is
 * not an {@code UpsertValue}: it is the absence of one ({@code null}).
 *
 * <p>Immutable; equality is by content, which is what "an update to an equal value emits nothing"
 * compares. The hash is computed once, when the value is made (its bytes were just decoded, so
 * they are in the cache), and {@link #equals} compares it first: the output rule and the sink's
 * consolidation test each drained command's value against an older one that is long out of the
 * cache, and different values then differ without reading the older value's bytes.
 */
public final class UpsertValue {
    private final byte[] bytes;
    private final String error;
    private final int hash;

    private UpsertValue(byte[] bytes, String error) {
        this.bytes = Objects.requireNonNull(bytes, "bytes");
        this.error = error;
        this.hash = 31 * Arrays.hashCode(bytes) + Objects.hashCode(error);
    }

    /** A value that decoded (or needs no decoding). */
    public static UpsertValue of(byte[] bytes) {
        return new UpsertValue(bytes, null);
    }

    /** An error value: {@code raw} failed to decode because of {@code reason}. */
    public static UpsertValue error(byte[] raw, String reason) {
        return new UpsertValue(raw, Objects.requireNonNull(reason, "reason"));
    }

    /** The value bytes; for an error value, the raw bytes that failed to decode. */
    public byte[] bytes() {
        return bytes;
    }

    /** Why the value failed to decode, or {@code null} for a good value. */
    public String error() {
        return error;
    }

    public boolean isError() {
        return error != null;
    }

    @Override
    public boolean equals(Object o) {
        return o == this || o instanceof UpsertValue v && hash == v.hash && Arrays.equals(bytes, v.bytes)
                && Objects.equals(error, v.error);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return isError() ? "error(" + error + ")" : "value(" + bytes.length + " bytes)";
    }
}
