package io.upsertfeedback.connectors.sink;

/**
 * Whether the sink is reading a backlog: the rule that decides when the sink holds keys across
 * checkpoints (SPEC 3.12, catch-up).
 *
 * <p><b>Rule.</b> The sink is catching up while, over the last sampling window, its input
 * watermark advanced by more than {@link #FACTOR} times the processing time that elapsed: event
 * time then runs faster than the wall clock, which only a job reading history does (live traffic
 * moves the watermark at about the wall clock's pace, and a quiet topic not at all). The rule
 * compares rates, not the watermark with the wall clock, so it does not depend on whether record
 * times are close to the wall clock (synthetic times, replays of old topics). A watermark at
 * {@code +inf} (end of input) is never catching up. The first window starts with the first
 * watermark ({@link #firstWatermark}), so a job starting on a backlog holds within a second of
 * reading it.
 *
 * <p><b>Why.</b> Spread over many ticks, a backlog gives the sink about one update per command
 * (each its own time). Written at every checkpoint, that is one store row per key and checkpoint
 * interval; held across checkpoints while catching up, each key is written about once per
 * {@code sink.catch-up.max-hold}, and the store's write volume no longer depends on how the
 * backlog's times are spread. A wrong answer costs little either way: one window of extra hold,
 * or a few more writes.
 *
 * <p>Not thread-safe: the sink's task thread samples it.
 */
final class CatchUp {
    /** How much faster than the wall clock the watermark must advance. */
    static final long FACTOR = 2;
    /** The sampling window in processing time (ms): the sink samples once per window. */
    static final long WINDOW_MILLIS = 1_000;

    private long sampledAt = Long.MIN_VALUE;
    private long sampledWatermark = Long.MIN_VALUE;
    private boolean catchingUp;

    /**
     * Samples at processing time {@code now} (ms) with the sink's current input watermark (ms).
     *
     * @return whether the sink is catching up from now until the next sample
     */
    boolean sample(long now, long watermark) {
        boolean known = sampledAt != Long.MIN_VALUE && sampledWatermark != Long.MIN_VALUE && watermark != Long.MAX_VALUE;
        long elapsed = now - sampledAt;
        catchingUp = known && elapsed > 0 && watermark - sampledWatermark > FACTOR * elapsed;
        sampledAt = now;
        sampledWatermark = watermark;
        return catchingUp;
    }

    /** A watermark arrived at processing time {@code now} (ms): the first one starts the first window. */
    void firstWatermark(long now, long watermark) {
        if (sampledWatermark == Long.MIN_VALUE && watermark != Long.MIN_VALUE && watermark != Long.MAX_VALUE) {
            sampledAt = now;
            sampledWatermark = watermark;
        }
    }

    /** The answer of the last {@link #sample}. */
    boolean catchingUp() {
        return catchingUp;
    }
}
