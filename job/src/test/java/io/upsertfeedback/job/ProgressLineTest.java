package io.upsertfeedback.job;

import io.upsertfeedback.operators.Frontiers;
import org.junit.jupiter.api.Test;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneId;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProgressLineTest {
    /** An empty store's P (Frontiers.EMPTY_STORE, just above Long.MIN_VALUE) was printed as the clock time 16:47:04. */
    @Test
    void anEmptyStoresFrontierIsMinusInfinityNotAClockTime() {
        assertEquals("-inf", ProgressLine.time(Frontiers.EMPTY_STORE));
        assertEquals("-inf", ProgressLine.time(Long.MIN_VALUE));
        assertEquals("+inf", ProgressLine.time(Long.MAX_VALUE));
    }

    /** A new user's finding: a 2023 input showed its frontiers as today's clock times, and year 9999 as 23:59:59. */
    @Test
    void aFrontierOnAnotherDayThanTodayShowsItsDate() {
        long t = LocalDateTime.of(2023, 11, 14, 22, 14, 46).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli();
        assertEquals("22:14:46", ProgressLine.time(t, LocalDate.of(2023, 11, 14)));
        assertEquals("2023-11-14 22:14:46", ProgressLine.time(t, LocalDate.of(2026, 11, 30)));
        long farFuture = LocalDateTime.of(9999, 12, 31, 23, 59, 59).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli();
        assertEquals("9999-12-31 23:59:59", ProgressLine.time(farFuture, LocalDate.of(2026, 11, 30)));
    }
}
