package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.operators.Frontiers;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The catch-up rule (SPEC 3.12): event time outrunning the wall clock, by rates, not by absolute times. */
class CatchUpTest {
    @Test
    void aWatermarkOutrunningTheClockIsCatchingUpAndOneKeepingPaceIsNot() {
        CatchUp c = new CatchUp();
        assertFalse(c.sample(1_000, 50_000), "the first sample only notes the watermark");
        for (long s = 2; s <= 10; s++) {
            assertFalse(c.sample(s * 1_000, 49_000 + s * 1_000), "1 s in 1 s: live traffic");
        }
        assertFalse(c.sample(11_000, 59_000), "a quiet topic");
        assertTrue(c.sample(12_000, 90_000), "event time outrunning the clock");
    }

    @Test
    void twiceTheClocksPaceIsNotEnough() {
        CatchUp c = new CatchUp();
        c.sample(1_000, 10_000);
        assertFalse(c.sample(2_000, 12_000));
        assertFalse(c.sample(3_000, 14_000));
        assertTrue(c.sample(4_000, 16_001));
    }

    /**
     * The bug: judged on one window, a stall of a second (a checkpoint, a collection, storage pushing
     * back) ended catching up in the middle of a backlog, and the sink wrote every key it held.
     */
    @Test
    void aStallShorterThanTheSpanDoesNotEndCatchingUp() {
        CatchUp c = new CatchUp();
        c.sample(1_000, 0);
        long w = 0;
        for (long s = 2; s <= 10; s++) {
            w += 600_000; // ten minutes of a day's backlog a second
            assertTrue(c.sample(s * 1_000, w));
        }
        for (long s = 11; s < 10 + CatchUp.SPAN; s++) {
            assertTrue(c.sample(s * 1_000, w), "stalled for " + (s - 10) + " s");
        }
        assertFalse(c.sample((10 + CatchUp.SPAN) * 1_000, w), "the backlog is read: caught up " + CatchUp.SPAN + " windows later");
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
        c.firstWatermark(1_700, 20_000); // only the first counts: from it, 2_500 would be too soon to judge
        assertTrue(c.sample(2_500, 30_000), "20 s of event time in 1 s");
    }

    /**
     * The operator forwards a fresh store's persist frontier as a watermark before any command's
     * time; taken for a time it started the first window, the pace overflowed and the first five
     * seconds of every backlog were judged live.
     */
    @Test
    void theEmptyStoresWatermarkIsNotATime() {
        CatchUp c = new CatchUp();
        c.firstWatermark(1_200, Frontiers.toWatermark(Frontiers.EMPTY_STORE));
        assertFalse(c.holds(), "not a first window");
        c.firstWatermark(1_500, 10_000);
        assertTrue(c.sample(2_500, 30_000), "20 s of event time in 1 s");
        assertTrue(c.sample(3_500, Long.MAX_VALUE - 1), "no overflow");
    }

    /** Until the sample ending the first window judges it, the sink holds as if catching up. */
    @Test
    void theFirstWindowIsHeldUntilItsSampleJudgesIt() {
        CatchUp c = new CatchUp();
        assertFalse(c.holds(), "no watermark yet");
        c.firstWatermark(1_500, 10_000);
        assertTrue(c.holds());
        assertFalse(c.catchingUp(), "not judged: not catching up");
        assertFalse(c.sample(2_500, 10_100), "a live pace");
        assertFalse(c.holds());
    }

    /**
     * The sampling timer runs from the sink's start, so a sample can come a few milliseconds after
     * the first watermark, before the watermark moved again; judged on that, a backlog's first
     * window was live and the sink wrote everything it held (and again once caught up).
     */
    @Test
    void aFirstWindowShorterThanAWindowIsNotJudged() {
        CatchUp c = new CatchUp();
        c.firstWatermark(1_950, 10_000);
        assertFalse(c.sample(2_000, 10_000), "50 ms after the first watermark: too short to judge");
        assertTrue(c.holds(), "still held");
        assertTrue(c.sample(3_000, 5_000_000), "a day's pace once a window has passed");
    }

    @Test
    void theEndOfInputEndsAnUndecidedFirstWindow() {
        CatchUp c = new CatchUp();
        c.firstWatermark(1_950, 10_000);
        assertFalse(c.sample(2_000, Long.MAX_VALUE));
        assertFalse(c.holds(), "the end of input holds nothing back");
    }
}
