package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.testing.Consolidation.Row;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent model of the collection the upsert feedback operator must produce, written from
 * SPEC sections 2 and 3 with plain lists and maps: no Flink, no state backend, no timers, no
 * incremental bookkeeping. Feed it the same inputs as the operator (commands, rehydrated prior
 * values, frontiers as frontiers, i.e. watermark + 1) and compare {@link #expected()} with the
 * consolidated output of the operator.
 *
 * <p>The model: every key has an applied value with the order key and time of the command that
 * wrote it, and a list of pending commands. A command below its partition's resume position is
 * dropped; one whose order key is not above every order key its key has seen is dropped; any other
 * is pending at {@code max(t, S, output frontier, key's latest time)} and replaces a pending
 * command of its key at that same time. On every frontier move: {@code S} rises to {@code P};
 * with {@code D = min(I, P + lead)} (or {@code I} once the feedback input ended), if
 * {@code D > S} every pending command below {@code D} is applied in time order per key at
 * {@code max(t, S)} with the output rule of SPEC 3.5, then {@code S = D}. The output frontier is
 * {@code max(min(I, earliest pending time), P)}.
 */
public final class CollectionOracle {
    private record Pending(long time, int partition, long offset, UpsertValue value) {
    }

    private static final class Key {
        UpsertValue value;
        long appliedTime = Long.MIN_VALUE;
        int highestPartition = Integer.MIN_VALUE;
        long highestOffset = Long.MIN_VALUE;
        int appliedPartition = Integer.MIN_VALUE;
        long appliedOffset = Long.MIN_VALUE;
        final List<Pending> pending = new ArrayList<>();

        long latestTime() {
            long latest = appliedTime;
            for (Pending p : pending) {
                latest = Math.max(latest, p.time());
            }
            return latest;
        }
    }

    private final long lead;
    private final Map<Integer, Long> resumePositions;
    private final Map<String, Key> keys = new HashMap<>();
    private final Map<Row, Long> expected = new HashMap<>();
    private long inputFrontier = Long.MIN_VALUE;
    private long persistFrontier = Long.MIN_VALUE;
    private boolean feedbackEnded;
    private boolean adoptsPersistFrontier = true;
    private long stateFrontier = Long.MIN_VALUE;
    private long outputFrontier = Long.MIN_VALUE;

    public CollectionOracle(long leadMillis, Map<Integer, Long> resumePositions) {
        this.lead = leadMillis;
        this.resumePositions = Map.copyOf(resumePositions);
    }

    private static int compare(int partition, long offset, int otherPartition, long otherOffset) {
        return partition != otherPartition ? Integer.compare(partition, otherPartition) : Long.compare(offset, otherOffset);
    }

    public void command(UpsertCommand command) {
        Long resumeAt = resumePositions.get(command.partition());
        if (resumeAt != null && command.offset() < resumeAt) {
            return;
        }
        Key key = keys.computeIfAbsent(command.flinkKey(), k -> new Key());
        if (compare(command.partition(), command.offset(), key.highestPartition, key.highestOffset) <= 0) {
            return;
        }
        key.highestPartition = command.partition();
        key.highestOffset = command.offset();
        long time = Math.max(Math.max(command.time(), stateFrontier), Math.max(outputFrontier, key.latestTime()));
        key.pending.removeIf(p -> p.time() == time);
        key.pending.add(new Pending(time, command.partition(), command.offset(), command.value()));
    }

    /** A rehydrated prior value: the store's value as of {@code P}. */
    public void prior(UpsertCommand prior) {
        Key key = keys.computeIfAbsent(prior.flinkKey(), k -> new Key());
        if (compare(prior.partition(), prior.offset(), key.appliedPartition, key.appliedOffset) > 0) {
            key.value = prior.value();
            key.appliedTime = prior.time();
            key.appliedPartition = prior.partition();
            key.appliedOffset = prior.offset();
            if (compare(prior.partition(), prior.offset(), key.highestPartition, key.highestOffset) > 0) {
                key.highestPartition = prior.partition();
                key.highestOffset = prior.offset();
            }
        }
    }

    public void inputFrontier(long frontier) {
        inputFrontier = Math.max(inputFrontier, frontier);
        frontiersMoved();
    }

    public void persistFrontier(long frontier) {
        persistFrontier = Math.max(persistFrontier, frontier);
        frontiersMoved();
    }

    public void feedbackEnded() {
        feedbackEnded = true;
        frontiersMoved();
    }

    /**
     * The operator was restored from a checkpoint: from now on a {@code P} ahead of {@code S} is
     * what a failed attempt wrote (the replay rewrites it at the same times), not a rehydrated
     * store, so {@code P} no longer moves {@code S} or the output frontier (SPEC 3.4: only
     * rehydration moves {@code S} up to {@code P}).
     */
    public void restoredFromCheckpoint() {
        adoptsPersistFrontier = false;
    }

    private void frontiersMoved() {
        long adopted = adoptsPersistFrontier ? persistFrontier : Long.MIN_VALUE;
        stateFrontier = Math.max(stateFrontier, adopted);
        long persistLimit = feedbackEnded ? Long.MAX_VALUE
                : persistFrontier > Long.MAX_VALUE - lead ? Long.MAX_VALUE : persistFrontier + lead;
        long drainBound = Math.min(inputFrontier, persistLimit);
        if (drainBound > stateFrontier) {
            for (Map.Entry<String, Key> entry : keys.entrySet()) {
                Key key = entry.getValue();
                key.pending.sort(Comparator.comparingLong(Pending::time));
                List<Pending> eligible = new ArrayList<>();
                for (Pending p : key.pending) {
                    if (p.time() < drainBound) {
                        eligible.add(p);
                    }
                }
                key.pending.removeAll(eligible);
                for (Pending p : eligible) {
                    apply(entry.getKey(), key, p, Math.max(p.time(), stateFrontier));
                }
            }
            stateFrontier = drainBound;
        }
        long earliestPending = Long.MAX_VALUE;
        for (Key key : keys.values()) {
            for (Pending p : key.pending) {
                earliestPending = Math.min(earliestPending, Math.max(p.time(), stateFrontier));
            }
        }
        outputFrontier = Math.max(outputFrontier, Math.max(Math.min(inputFrontier, earliestPending), adopted));
    }

    private void apply(String keyName, Key key, Pending p, long time) {
        if (compare(p.partition(), p.offset(), key.appliedPartition, key.appliedOffset) <= 0) {
            return;
        }
        UpsertValue prior = key.value;
        if (p.value() == null || !p.value().equals(prior)) {
            if (prior != null) {
                expected.merge(new Row(keyName, prior, time), -1L, Long::sum);
            }
            if (p.value() != null) {
                expected.merge(new Row(keyName, p.value(), time), 1L, Long::sum);
            }
        }
        key.value = p.value();
        key.appliedTime = time;
        key.appliedPartition = p.partition();
        key.appliedOffset = p.offset();
    }

    /** The consolidated collection expected so far. */
    public Map<Row, Long> expected() {
        Map<Row, Long> rows = new HashMap<>(expected);
        rows.values().removeIf(diff -> diff == 0);
        return rows;
    }

    /** The output frontier the operator must have reached: its output watermark + 1. */
    public long outputFrontier() {
        return outputFrontier;
    }

    /** Number of pending commands: what the operator must still hold. */
    public long pendingCount() {
        return keys.values().stream().mapToLong(k -> k.pending.size()).sum();
    }
}
