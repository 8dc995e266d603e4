package io.upsertfeedback.connectors.feedback;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The split's serialized form: what a checkpoint keeps of rehydration, and the older version 1 still read. */
class FeedbackSplitTest {
    private static final FeedbackSplit.Serializer SERIALIZER = FeedbackSplit.Serializer.INSTANCE;

    private static FeedbackSplit roundTrip(FeedbackSplit split) throws IOException {
        return SERIALIZER.deserialize(SERIALIZER.getVersion(), SERIALIZER.serialize(split));
    }

    @Test
    void aFinishedRehydrationKeepsItsLatency() throws IOException {
        FeedbackSplit back = roundTrip(FeedbackSplit.rehydratedIn(187));
        assertTrue(back.rehydrated());
        assertEquals(187, back.rehydrationMillis());
        assertNull(back.lastKey());
    }

    @Test
    void aScanInProgressKeepsItsLastKey() throws IOException {
        FeedbackSplit back = roundTrip(FeedbackSplit.scannedTo("k42".getBytes(UTF_8)));
        assertEquals(false, back.rehydrated());
        assertArrayEquals("k42".getBytes(UTF_8), back.lastKey());
        assertEquals(-1, back.rehydrationMillis());
    }

    @Test
    void noSplitIsNull() throws IOException {
        assertNull(roundTrip(null));
    }

    /** A checkpoint taken before the latency was kept (version 1): rehydrated, latency unknown (-1). */
    @Test
    void aVersion1SplitIsReadWithAnUnknownLatency() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeBoolean(true);
            out.writeBoolean(true);
            out.writeInt(-1);
        }
        FeedbackSplit back = SERIALIZER.deserialize(1, bytes.toByteArray());
        assertTrue(back.rehydrated());
        assertEquals(-1, back.rehydrationMillis());
    }
}
