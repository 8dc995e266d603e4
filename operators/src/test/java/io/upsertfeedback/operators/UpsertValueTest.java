package io.upsertfeedback.operators;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** Equality by content (SPEC 3.5: "an update to an equal value emits nothing"), with the hash kept from construction. */
class UpsertValueTest {
    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void valuesWithTheSameBytesAreEqualAndHashAlike() {
        assertEquals(UpsertValue.of(bytes("a")), UpsertValue.of(bytes("a")));
        assertEquals(UpsertValue.of(bytes("a")).hashCode(), UpsertValue.of(bytes("a")).hashCode());
        assertEquals(UpsertValue.error(bytes("x"), "bad"), UpsertValue.error(bytes("x"), "bad"));
    }

    @Test
    void differentBytesOrErrorsAreDifferentValues() {
        assertNotEquals(UpsertValue.of(bytes("a")), UpsertValue.of(bytes("b")));
        assertNotEquals(UpsertValue.of(bytes("x")), UpsertValue.error(bytes("x"), "bad"));
        assertNotEquals(UpsertValue.error(bytes("x"), "bad"), UpsertValue.error(bytes("x"), "worse"));
    }
}
