package io.upsertfeedback.connectors.sink;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The catch-up rule (SPEC 3.12): event time outrunning the wall clock, by rates, not by absolute times. */
class CatchUpTest {
    @Test
    void aWatermarkOutrunningTheClockIsCatchingUpAndOneKeepingPaceIsNot() {
        CatchUp c = new CatchUp();
        assertFalse(c.sample(1_000, 50_000), "the first sample only notes the watermark");
        assertTrue(c.sample(2_000, 60_000), "10 s of event time in 1 s");
        assertFalse(c.sample(3_000, 61_000), "1 s in 1 s: live traffic");
        assertFalse(c.sample(4_000, 61_000), "a quiet topic");
        assertFalse(c.sample(5_000, 63_000), "twice the clock's pace is not enough");
        assertTrue(c.sample(6_000, 65_001));
    }

    @Test
    void recordTimesFarFromTheWallClockDoNotMatterOnlyTheirPace() {
        CatchUp c = new CatchUp();
        c.sample(1_700_000_000_000L, 1_000); // synthetic times in 1970, replayed live
        assertFalse(c.sample(1_700_000_001_000L, 2_000));
    }

    @Test
    void theEndOfInputIsNeverCatchingUp() {
        CatchUp c = new CatchUp();
        c.sample(1_000, 5_000);
        assertFalse(c.sample(2_000, Long.MAX_VALUE));
    }

    /** A job starting on a backlog: the first window starts at the first watermark, not at the first timer. */
    @Test
    void theFirstWatermarkStartsTheFirstWindow() {
        CatchUp c = new CatchUp();
        assertFalse(c.sample(1_000, Long.MIN_VALUE), "no watermark yet");
        c.firstWatermark(1_500, 10_000);
        c.firstWatermark(1_700, 20_000); // only the first counts
        assertTrue(c.sample(2_000, 30_000), "20 s of event time in 0.5 s");
    }
}
