package io.upsertfeedback.operators;

import java.util.List;
import java.util.function.Consumer;

/**
 * One drain pass: the stash entries below the pass's bound {@code D} leave the stash through the
 * output rule, key by key, and the pass counts what happened ({@link DrainStats}). Free of Flink
 * types: the updates go to a {@code Consumer<Update>}.
 *
 * <p><b>Draining a key</b> ({@link #drain}) takes its stash entries below {@code D}, in time order,
 * each at {@code max(stored time, S)} with {@code S} the state frontier the pass started from
 * (retimed when {@code S} passed it), the prior value carried forward from one to the next. An
 * entry whose order key is not newer than the applied one (a rehydrated value came in after it) is
 * dropped as superseded. Clearing or writing the state afterwards is the caller's
 * ({@link KeyStateBuffer#changed}, or the operator's write-back).
 *
 * <p><b>Output rule</b> (SPEC 3.5), for prior {@code p} and winner {@code x}: {@code x} present:
 * {@code (p,t,-1)} if {@code p} exists, then {@code (x,t,+1)}; {@code x} a delete: {@code (p,t,-1)}
 * if {@code p} exists, else nothing; {@code x} equal to {@code p}: nothing. Error values are values.
 * Updates carry the order key's partition and offset of the command that caused them.
 */
final class KeyDrainer {
    /**
     * What one drain pass did, as the operator's metrics count it.
     *
     * @param drained       stash entries that left the stash (applied or superseded)
     * @param applied       entries applied through the output rule
     * @param superseded    entries dropped: not newer than the applied value
     * @param retimed       applied entries moved up to the state frontier
     * @param inserts       puts of a key without a value (one {@code +1})
     * @param updates       puts replacing a different value (a {@code -1} and a {@code +1})
     * @param deletes       deletes of a value (one {@code -1})
     * @param noopUpdates   puts of the value the key already holds (nothing emitted)
     * @param absentDeletes deletes of a key without a value (nothing emitted)
     */
    record DrainStats(long drained, long applied, long superseded, long retimed, long inserts,
                      long updates, long deletes, long noopUpdates, long absentDeletes) {
    }

    private final long bound;
    private final long start;
    private final Consumer<Update> out;
    private long drained;
    private long applied;
    private long superseded;
    private long retimed;
    private long inserts;
    private long updates;
    private long deletes;
    private long noopUpdates;
    private long absentDeletes;

    /**
     * @param bound the pass's drain bound {@code D}: entries below it drain
     * @param start the state frontier {@code S} the pass starts from: no update is emitted below it
     * @param out   receives the updates, in order per key
     */
    KeyDrainer(long bound, long start, Consumer<Update> out) {
        this.bound = bound;
        this.start = start;
        this.out = out;
    }

    /**
     * Drains {@code state}'s stash entries below the bound, in time order; {@code key} is the key's
     * bytes for the updates, {@code keyHash} their {@link Update#keyHash(byte[])}.
     */
    void drain(KeyState state, byte[] key, int keyHash) {
        List<KeyState.Pending> stash = state.stash;
        int taken = 0;
        while (taken < stash.size() && stash.get(taken).time() < bound) {
            KeyState.Pending pending = stash.get(taken++);
            if (!state.isNewerThanApplied(pending.orderTime(), pending.partition(), pending.offset())) {
                superseded++;
                continue;
            }
            applied++;
            long time = Math.max(pending.time(), start);
            if (time != pending.time()) {
                retimed++;
            }
            apply(state, key, keyHash, pending, time);
        }
        if (taken == stash.size()) {
            stash.clear();
        } else {
            stash.subList(0, taken).clear();
        }
        drained += taken;
    }

    /** The output rule for one winning command at {@code time}; it becomes the key's applied value. */
    private void apply(KeyState state, byte[] key, int keyHash, KeyState.Pending pending, long time) {
        UpsertValue prior = state.value;
        UpsertValue next = pending.value();
        int partition = pending.partition();
        long offset = pending.offset();
        if (next == null) {
            if (prior != null) {
                out.accept(Update.of(key, keyHash, prior, time, -1, partition, offset));
                deletes++;
            } else {
                absentDeletes++;
            }
        } else if (next.equals(prior)) {
            noopUpdates++;
        } else {
            if (prior != null) {
                out.accept(Update.of(key, keyHash, prior, time, -1, partition, offset));
                updates++;
            } else {
                inserts++;
            }
            out.accept(Update.of(key, keyHash, next, time, +1, partition, offset));
        }
        state.setApplied(next, pending.orderTime(), partition, offset, time);
    }

    /** Stash entries drained so far in this pass. */
    long drained() {
        return drained;
    }

    /** What the pass did so far. */
    DrainStats stats() {
        return new DrainStats(drained, applied, superseded, retimed, inserts, updates, deletes, noopUpdates, absentDeletes);
    }
}
