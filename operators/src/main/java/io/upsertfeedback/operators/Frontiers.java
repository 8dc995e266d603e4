package io.upsertfeedback.operators;

import java.util.List;

/**
 * The frontiers of one operator subtask and the rules written on them (SPEC sections 2 and 3).
 * A frontier {@code F} means "everything at a time {@code < F}"; {@code Long.MIN_VALUE} is
 * "nothing", {@code Long.MAX_VALUE} "everything", and arithmetic saturates. A frontier travels as
 * the Flink watermark {@code F - 1} ({@link #toWatermark}, {@link #ofWatermark}: the one
 * conversion every module uses).
 *
 * <ul>
 *   <li>{@code I}, the input frontier: command-input watermark + 1.
 *   <li>{@code P}, the persist frontier: feedback-input watermark + 1. Unknown until the feedback
 *       input speaks ({@link #persistKnown}); until then nothing drains and no watermark moves
 *       (SPEC 3.10), so this operator can never pull the store's {@code P} backwards. An empty
 *       store speaks as {@link #EMPTY_STORE}. A {@code MAX_WATERMARK} on the feedback input means
 *       that input ended (no store, or a finished one): drains are then gated by {@code I} alone.
 *   <li>{@code S}, the state frontier: prior values reflect every drained time {@code < S}.
 *   <li>{@code D}, the drain bound ({@link #drainBound}): the single spelling of eligibility.
 * </ul>
 *
 * <p><b>P passing held commands: rehydration and restore.</b> In a running pipeline {@code P} never
 * passes a held time: the sink's frontier follows the operator's output watermark, which stays
 * below what is held. It does in two cases, told apart by whether the operator restored state
 * ({@code rehydrating} is the opposite):
 * <ul>
 *   <li><em>Rehydration</em> (no checkpoint: the operator started empty and the store was fed back
 *       to it). The store claims every time below a finite {@code P}, so {@code S} moves up to it
 *       ({@link #adopt}) and the held commands are applied at {@code P} (never behind it, which
 *       would rewrite history the store calls final) as soon as {@code I > P}; meanwhile the output
 *       watermark is {@code P - 1}, not pinned below it. A {@code P} of {@code +inf} (the writing
 *       job finished its input) claims no time for new commands: they keep their times (SPEC 3.10).
 *   <li><em>Restore from a checkpoint or savepoint.</em> The sink advanced {@code P} with the
 *       watermark, after the checkpoint, so the store is ahead of the restored operator. But the
 *       restored state and the restored source offsets agree with each other: the replay drains
 *       the same commands at the same times as the failed attempt, and the sink rewrites the same
 *       cells (idempotent, never older over newer). So here {@code P} only opens the eligibility
 *       gate: it moves neither {@code S} nor the output watermark. Retiming the replay to {@code P}
 *       would emit a changelog a failure-free run never emits, and could order a replayed delete
 *       behind a retimed put of the failed attempt, which the store would refuse as older.
 * </ul>
 */
public final class Frontiers {
    /**
     * The persist frontier of a store that holds nothing yet: known (unlike "not read yet"), below
     * every real time. Its watermark {@code Long.MIN_VALUE + 1} is the smallest one Flink forwards.
     */
    public static final long EMPTY_STORE = Long.MIN_VALUE + 2;

    private final long lead;
    private final long tick;
    private final boolean rehydrating;
    long input = Long.MIN_VALUE;
    long persist = Long.MIN_VALUE;
    boolean feedbackEnded;
    long state = Long.MIN_VALUE;
    long outputWatermark = Long.MIN_VALUE;
    /** The latest time of a command this subtask received. */
    long latestCommand = Long.MIN_VALUE;

    /**
     * @param leadMillis  {@code upsert.lead} in ms ({@code Long.MAX_VALUE}: unbounded)
     * @param tickMillis  {@code upsert.tick} in ms: command times are multiples of it (SPEC 2)
     * @param rehydrating the operator started without state (see the class comment)
     */
    Frontiers(long leadMillis, long tickMillis, boolean rehydrating) {
        this.lead = leadMillis;
        this.tick = tickMillis;
        this.rehydrating = rehydrating;
    }

    /** The frontier a watermark {@code w} stands for: {@code w + 1}, saturating. */
    public static long ofWatermark(long watermark) {
        return saturatingAdd(watermark, 1);
    }

    /** The watermark that carries frontier {@code f}: {@code f - 1}, except that "everything" stays {@code MAX_VALUE}. */
    public static long toWatermark(long frontier) {
        return frontier == Long.MAX_VALUE ? Long.MAX_VALUE : saturatingAdd(frontier, -1);
    }

    /** {@code a + b}, saturating at {@code Long.MIN_VALUE} and {@code Long.MAX_VALUE}. */
    public static long saturatingAdd(long a, long b) {
        long sum = a + b;
        if (((a ^ sum) & (b ^ sum)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return sum;
    }

    /** Has the feedback input told {@code P} (or ended)? */
    boolean persistKnown() {
        return persist != Long.MIN_VALUE || feedbackEnded;
    }

    /** A command-input watermark arrived. */
    void inputWatermark(long watermark) {
        input = Math.max(input, ofWatermark(watermark));
    }

    /**
     * The whole command input went idle (every partition quiet for {@code ingest.watermark.idleness}):
     * {@code I} moves to the tick after the latest command received (command times are ticks, so
     * none falls in between), so the last tick of a quiet topic drains instead of waiting for a
     * later record. A record that comes after this with a time below the new {@code I} is applied
     * at the state frontier, a tick too (SPEC 2: the one case, with rehydration, where a result
     * depends on timing).
     */
    void inputIdle() {
        if (latestCommand != Long.MIN_VALUE) {
            input = Math.max(input, saturatingAdd(latestCommand, tick));
        }
    }

    /** A feedback-input watermark arrived; {@code P} never goes backwards. */
    void feedbackWatermark(long watermark) {
        if (watermark == Long.MAX_VALUE) {
            feedbackEnded = true;
        } else {
            persist = Math.max(persist, ofWatermark(watermark));
        }
    }

    /** The {@code P} a rehydrating operator adopts (see the class comment), else "nothing". */
    long adoptedPersistFrontier() {
        return rehydrating && persist != Long.MAX_VALUE ? persist : Long.MIN_VALUE;
    }

    /** Moves {@code S} up to an adopted {@code P}. */
    void adopt() {
        state = Math.max(state, adoptedPersistFrontier());
    }

    /**
     * SPEC 3.3, the eligibility rule: commands at {@code t} drain when {@code S <= t < D}, with
     * {@code D = min(I, P + lead)} ({@code I} alone once the feedback ended or with an unbounded
     * lead); "nothing" while
     * {@code P} is unknown. A drain pass is due when {@code D > S}.
     */
    long drainBound() {
        if (!persistKnown()) {
            return Long.MIN_VALUE;
        }
        boolean ungated = feedbackEnded || lead == Long.MAX_VALUE;
        return Math.min(input, ungated ? Long.MAX_VALUE : saturatingAdd(persist, lead));
    }

    /**
     * The earliest time a command arriving now may take: not behind {@code S} (a drained time is
     * never written again), nor behind the output frontier (no output is late).
     */
    long openTime() {
        return Math.max(state, ofWatermark(outputWatermark));
    }

    /**
     * SPEC 3.7: the output frontier {@code max(min(I, earliest held), adopted P)}, the earliest held
     * time being {@code max(earliestStashed, S)} ({@code earliestStashed = Long.MAX_VALUE} when
     * nothing is stashed); "nothing" while {@code P} is unknown.
     */
    long outputFrontier(long earliestStashed) {
        if (!persistKnown()) {
            return Long.MIN_VALUE;
        }
        long held = earliestStashed == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(earliestStashed, state);
        return Math.max(Math.min(input, held), adoptedPersistFrontier());
    }

    /** Number of leading entries of an operator-state entry ({@link #encode}) before the held times. */
    static final int ENTRY_HEADER = 8;

    /**
     * The operator-state entry of this subtask: {@code [S, I, P, feedbackEnded, output watermark,
     * subtask, parallelism, latest command time, heldTimes...]}.
     */
    long[] encode(int subtask, int parallelism, long[] heldTimes) {
        long[] entry = new long[ENTRY_HEADER + heldTimes.length];
        entry[0] = state;
        entry[1] = input;
        entry[2] = persist;
        entry[3] = feedbackEnded ? 1 : 0;
        entry[4] = outputWatermark;
        entry[5] = subtask;
        entry[6] = parallelism;
        entry[7] = latestCommand;
        System.arraycopy(heldTimes, 0, entry, ENTRY_HEADER, heldTimes.length);
        return entry;
    }

    /** Restores the frontiers as the minimum over every subtask's entry (a rescale merges them). */
    void restore(List<long[]> entries) {
        boolean first = true;
        for (long[] entry : entries) {
            state = first ? entry[0] : Math.min(state, entry[0]);
            input = first ? entry[1] : Math.min(input, entry[1]);
            persist = first ? entry[2] : Math.min(persist, entry[2]);
            feedbackEnded = first ? entry[3] == 1 : feedbackEnded && entry[3] == 1;
            outputWatermark = first ? entry[4] : Math.min(outputWatermark, entry[4]);
            latestCommand = Math.max(latestCommand, entry[7]);
            first = false;
        }
    }

    /** Is this entry the one this subtask wrote at this parallelism (so its held times are this subtask's)? */
    static boolean isOwnEntry(long[] entry, int subtask, int parallelism) {
        return entry[5] == subtask && entry[6] == parallelism;
    }
}
