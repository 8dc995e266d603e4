package io.upsertfeedback.job;

import io.upsertfeedback.operators.Frontiers;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProgressLineTest {
    /** An empty store's P (Frontiers.EMPTY_STORE, just above Long.MIN_VALUE) was printed as the clock time 16:47:04. */
    @Test
    void anEmptyStoresFrontierIsMinusInfinityNotAClockTime() {
        assertEquals("-inf", ProgressLine.time(Frontiers.EMPTY_STORE));
        assertEquals("-inf", ProgressLine.time(Long.MIN_VALUE));
        assertEquals("+inf", ProgressLine.time(Long.MAX_VALUE));
    }
}
