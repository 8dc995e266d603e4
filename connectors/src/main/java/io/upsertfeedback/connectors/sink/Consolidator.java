package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Consolidates the operator's data updates per {@code (key, time)} into at most one write each.
 *
 * <p><b>Rule.</b> A group's result is the sum of its diffs per value, whatever the order the
 * updates arrived in: the value left at {@code +1} is the key's new value (a put), the value left
 * at {@code -1} its previous one; only a {@code -1} left is a delete; nothing left (a {@code +a}
 * cancelled by a {@code -a}, as a rehydration that retimes two replayed commands of one key emits)
 * is no write at all. A group's order key {@code (partition, offset)} is the latest of its updates'.
 *
 * <p><b>Bounded.</b> At most {@code capacity} groups are held, in arrival order. A group is given
 * out when the watermark passes its time ({@link #drainUpTo}), when the map is over capacity (the
 * oldest group: the operator emits a key's updates of one time back to back, so the oldest group is
 * complete), or at a flush ({@link #drainAll}). Not thread-safe: the sink's task thread owns it.
 */
final class Consolidator {

    /**
     * The net write of one {@code (key, time)} group.
     *
     * @param value the new value; {@code null} for a delete
     * @param previous the value it replaces as the operator knew it; {@code null} when there was none
     */
    record Consolidated(byte[] key, long time, UpsertValue value, UpsertValue previous, int partition, long offset) {}

    private record KeyTime(ByteBuffer key, long time) {}

    private static final class Group {
        final byte[] key;
        final long time;
        final Map<UpsertValue, Integer> diffs = new LinkedHashMap<>(4);
        int partition = Integer.MIN_VALUE;
        long offset = Long.MIN_VALUE;

        Group(byte[] key, long time) {
            this.key = key;
            this.time = time;
        }

        void add(Update u) {
            diffs.merge(u.value(), u.diff(), Integer::sum);
            if (u.partition() > partition || (u.partition() == partition && u.offset() > offset)) {
                partition = u.partition();
                offset = u.offset();
            }
        }

        /** The net write, or {@code null} when the diffs cancel out. */
        Consolidated result() {
            UpsertValue added = null;
            UpsertValue removed = null;
            for (Map.Entry<UpsertValue, Integer> e : diffs.entrySet()) {
                if (e.getValue() > 0) {
                    added = e.getKey();
                } else if (e.getValue() < 0) {
                    removed = e.getKey();
                }
            }
            if (added == null && removed == null) {
                return null;
            }
            return new Consolidated(key, time, added, removed, partition, offset);
        }
    }

    private final int capacity;
    private final LinkedHashMap<KeyTime, Group> groups = new LinkedHashMap<>();

    Consolidator(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("consolidation capacity must be at least 1, was " + capacity);
        }
        this.capacity = capacity;
    }

    /**
     * Adds one data update; returns the groups it pushed out over capacity (net writes, possibly
     * none).
     */
    List<Consolidated> add(Update update) {
        groups.computeIfAbsent(new KeyTime(ByteBuffer.wrap(update.key()), update.time()), k -> new Group(update.key(), update.time()))
                .add(update);
        List<Consolidated> out = new ArrayList<>(1);
        Iterator<Group> eldest = groups.values().iterator();
        while (groups.size() > capacity) {
            addResult(out, eldest.next());
            eldest.remove();
        }
        return out;
    }

    /** Gives out every group at a time at or below {@code watermark}, in arrival order. */
    List<Consolidated> drainUpTo(long watermark) {
        List<Consolidated> out = new ArrayList<>();
        for (Iterator<Group> it = groups.values().iterator(); it.hasNext(); ) {
            Group g = it.next();
            if (g.time <= watermark) {
                addResult(out, g);
                it.remove();
            }
        }
        return out;
    }

    /** Gives out every group. */
    List<Consolidated> drainAll() {
        return drainUpTo(Long.MAX_VALUE);
    }

    int size() {
        return groups.size();
    }

    private static void addResult(List<Consolidated> out, Group g) {
        Consolidated c = g.result();
        if (c != null) {
            out.add(c);
        }
    }
}
