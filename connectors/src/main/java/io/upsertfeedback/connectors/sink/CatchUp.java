package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.operators.Frontiers;

/**
 * Whether the sink is reading a backlog: the rule that decides when the sink holds keys across
 * checkpoints (SPEC 3.12, catch-up).
 *
 * <p><b>Rule.</b> The sink is catching up while, over the last {@link #SPAN} sampling windows (fewer
 * at the start), its input watermark advanced by more than {@link #FACTOR} times the processing
 * time that elapsed: event time then runs faster than the wall clock, which only a job reading
 * history does (live traffic moves the watermark at about the wall clock's pace, and a quiet topic
 * not at all). The rule compares rates, not the watermark with the wall clock, so it does not
 * depend on whether record times are close to the wall clock (synthetic times, replays of old
 * topics). A watermark at {@code +inf} (end of input) is never catching up. The first window starts
 * with the first watermark ({@link #firstWatermark}), and until the sample that ends it has judged
 * the pace the sink holds as if catching up ({@link #holds}): a job starting on a backlog held only
 * from its first sample on and wrote the keys of its first window twice (20,000 to 30,000 per
 * subtask on the 24-hour backlog benchmark, once then and once caught up); a live job's first
 * window waits at most one window longer. The sample that judges the first window is the first
 * one at least {@link #WINDOW_MILLIS} after the first watermark: the sampling timer runs from the
 * sink's start, so the next sample can come a few milliseconds after the first watermark, before
 * the watermark moved again (it moves once per drain pass, every 200 ms on a backlog), and such a
 * window read as a stopped watermark, judged live: the sink wrote everything it held, and wrote it
 * again once caught up.
 *
 * <p><b>Why a span of windows.</b> A backlog's watermark does not move smoothly: it stops while a
 * checkpoint is taken, the garbage collector runs or storage pushes back, for a second or two.
 * Judged on one window, such a stall ended catching up, and the sink wrote every key it held at
 * once, then held again: on the 24-hour backlog benchmark the store wrote each key about six
 * times instead of about twice, and the run took 48 to 140 s by how often it stalled. Over
 * {@code SPAN} windows a stall shorter than the span leaves the pace far above the clock's. The
 * price: once a backlog is read, the sink writes what it holds {@code SPAN} windows later (once
 * per backlog; a bounded input ends at once).
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
    /** How many of the last windows the pace is measured over. */
    static final int SPAN = 5;

    /** The last {@code SPAN} samples (processing time, watermark), oldest first from {@code first}. */
    private final long[] sampledAt = new long[SPAN];
    private final long[] sampledWatermark = new long[SPAN];
    private int first;
    private int count;
    private boolean catchingUp;
    /** The first window has started and no sample has judged it yet. */
    private boolean undecided;

    /**
     * Samples at processing time {@code now} (ms) with the sink's current input watermark (ms).
     *
     * @return whether the sink is catching up from now until the next sample
     */
    boolean sample(long now, long watermark) {
        if (!finite(watermark)) {
            count = 0; // no watermark yet, or the end of input: a new span starts at the next watermark
            undecided = false;
            catchingUp = false;
            return false;
        }
        if (undecided && now - sampledAt[first] < WINDOW_MILLIS) {
            return false; // the first window is shorter than a window: not judged yet, still held
        }
        undecided = false;
        // in doubles: two watermarks a day apart near the ends of the long range must not overflow
        catchingUp = count > 0 && now > sampledAt[first]
                && (double) watermark - sampledWatermark[first] > FACTOR * (double) (now - sampledAt[first]);
        record(now, watermark);
        return catchingUp;
    }

    /** A watermark arrived at processing time {@code now} (ms): the first one starts the first window. */
    void firstWatermark(long now, long watermark) {
        if (count == 0 && finite(watermark)) {
            record(now, watermark);
            undecided = true;
        }
    }

    /**
     * Whether {@code watermark} is a time: not the absent one ({@code -inf}), nor the one a fresh
     * store's persist frontier gives ({@link Frontiers#EMPTY_STORE}: the operator forwards it before
     * any command's time; taken for a time, it started the first window 292 million years before
     * the backlog, the pace overflowed, and the sink judged the first five seconds of every backlog
     * as live, writing 30,000 to 40,000 keys per subtask it wrote again once caught up), nor the
     * final one ({@code +inf}).
     */
    private static boolean finite(long watermark) {
        return watermark > Frontiers.toWatermark(Frontiers.EMPTY_STORE) && watermark != Long.MAX_VALUE;
    }

    private void record(long now, long watermark) {
        if (count == SPAN) {
            first = (first + 1) % SPAN;
            count--;
        }
        int at = (first + count) % SPAN;
        sampledAt[at] = now;
        sampledWatermark[at] = watermark;
        count++;
    }

    /** The answer of the last {@link #sample}. */
    boolean catchingUp() {
        return catchingUp;
    }

    /** Whether the sink holds keys across checkpoints now: catching up, or in a first window not yet judged. */
    boolean holds() {
        return catchingUp || undecided;
    }
}
