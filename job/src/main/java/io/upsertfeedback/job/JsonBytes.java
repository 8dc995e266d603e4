package io.upsertfeedback.job;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Bytes in the JSON lines of the contract (input, dump, changelog): a field {@code "key"} holds
 * UTF-8 text, its twin {@code "key_b64"} holds any bytes in standard base64 (RFC 4648). Written as
 * text when the bytes are valid UTF-8 without control characters (tab, line feed and carriage
 * return aside), else as base64, so binary keys (Avro, hashes) stay distinct and values that are
 * Avro binary survive the round trip.
 */
final class JsonBytes {
    private JsonBytes() {
    }

    /** Puts {@code bytes} under {@code field} as text when they are valid UTF-8, else under {@code field_b64}. */
    static void put(ObjectNode node, String field, byte[] bytes) {
        String text = utf8(bytes);
        if (text != null) {
            node.put(field, text);
        } else {
            node.put(field + "_b64", Base64.getEncoder().encodeToString(bytes));
        }
    }

    /** Whether the line has {@code field} or {@code field_b64}. */
    static boolean has(JsonNode node, String field) {
        return node.has(field) || node.has(field + "_b64");
    }

    /**
     * The bytes of {@code field} (UTF-8 text) or {@code field_b64} (base64); {@code null} for a JSON
     * null. Throws {@link IllegalArgumentException} naming the field when both are given, or when
     * the value is not a string, or not base64, or text with a lone UTF-16 surrogate.
     */
    static byte[] get(JsonNode node, String field) {
        JsonNode text = node.get(field);
        JsonNode b64 = node.get(field + "_b64");
        if (text != null && b64 != null) {
            throw new IllegalArgumentException("\"" + field + "\" and \"" + field + "_b64\" both given; give one");
        }
        JsonNode v = text != null ? text : b64;
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("\"" + (text != null ? field : field + "_b64") + "\" is not a string");
        }
        if (text != null) {
            return utf8Bytes(field, v.asText());
        }
        try {
            return Base64.getDecoder().decode(v.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("\"" + field + "_b64\" is not base64 (" + e.getMessage() + ")");
        }
    }

    /**
     * The UTF-8 bytes of a field's text. A JSON escape may give a lone UTF-16 surrogate
     * ({@code "\\ud800"}: valid JSON, RFC 8259 section 8.2, but no Unicode character); Java's
     * {@code getBytes} would replace it with {@code ?}, so two keys would become one.
     */
    private static byte[] utf8Bytes(String field, String text) {
        CharsetEncoder encoder = StandardCharsets.UTF_8.newEncoder(); // reports malformed input (the default)
        CharBuffer in = CharBuffer.wrap(text);
        ByteBuffer out = ByteBuffer.allocate((int) Math.ceil(text.length() * (double) encoder.maxBytesPerChar()));
        CoderResult result = encoder.encode(in, out, true);
        if (!result.isError()) {
            result = encoder.flush(out);
        }
        if (result.isError()) {
            throw new IllegalArgumentException("\"" + field + "\" holds a lone UTF-16 surrogate (\\u"
                    + HexFormat.of().toHexDigits(text.charAt(in.position())) + "), which is no Unicode character; give its bytes in base64 as \""
                    + field + "_b64\"");
        }
        return Arrays.copyOf(out.array(), out.position());
    }

    /** The bytes as text if they are valid UTF-8 without control characters (but tab, LF, CR), else {@code null}. */
    private static String utf8(byte[] bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        boolean control = text.chars().anyMatch(c -> Character.isISOControl(c) && c != '\t' && c != '\n' && c != '\r');
        return control ? null : text;
    }
}
