package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.testing.Consolidation.Row;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the collection must be, from SPEC sections 2 and 3 alone: a function of the records (and,
 * for a run that rehydrated, of the store it started from), with no frontiers, no arrival timing,
 * no failures. It is the failure-free run every run is compared with (SPEC invariant 9).
 *
 * <ul>
 *   <li>A record below its partition's resume position is in the store already: it is not a
 *       command of this run (SPEC 3.4).
 *   <li>A command's time is its record time, raised to the key's previous time in its partition
 *       (the stored value counts as the key's previous command of its partition); its order key is
 *       {@code (t, partition, offset)} (SPEC 2).
 *   <li>A command whose order key is not above the stored value's is already reflected (SPEC 3.4).
 *       After a rehydration from a store at a finite {@code P}, a command below {@code P} applies at
 *       {@code P}; at {@code P = +inf} every command keeps its time (SPEC 3.10).
 *   <li>Per key and time only the highest order key applies (SPEC 3.2); times apply in order, with
 *       the output rule of SPEC 3.5 (an equal value emits nothing).
 * </ul>
 *
 * The final value of a key is, independently, the value of its highest order key (SPEC 2).
 */
public final class SpecModel {
    private record Ordered(long time, int partition, long offset, UpsertValue value) implements Comparable<Ordered> {
        @Override
        public int compareTo(Ordered o) {
            int c = Long.compare(time, o.time);
            if (c == 0) {
                c = Integer.compare(partition, o.partition);
            }
            return c != 0 ? c : Long.compare(offset, o.offset);
        }
    }

    private final Map<Integer, Long> positions;
    private final Map<String, UpsertCommand> stored = new HashMap<>();
    private final List<UpsertCommand> records = new ArrayList<>();
    private long rehydratedFrom = Long.MIN_VALUE;

    /** A run with resume positions (empty: a new store, or a run restored from a checkpoint of such a run). */
    public SpecModel(Map<Integer, Long> positions) {
        this.positions = Map.copyOf(positions);
    }

    /** A value the store held when the run started (its order key and time are the command's that wrote it). */
    public void stored(UpsertCommand value) {
        stored.put(value.flinkKey(), value);
    }

    /** The store's {@code P} when the run started ({@code Long.MAX_VALUE}: a finished store). */
    public void rehydratedFrom(long persistFrontier) {
        rehydratedFrom = persistFrontier;
    }

    /** A record read by the run (each once, whatever failures replayed it), in the order of its partition. */
    public void record(UpsertCommand command) {
        records.add(command);
    }

    /** Per key, its commands with their order keys (time rule applied), dropping what the store holds. */
    private Map<String, List<Ordered>> commandsByKey() {
        Map<String, Map<Integer, Long>> previousTimes = new HashMap<>();
        stored.forEach((key, value) -> previousTimes.computeIfAbsent(key, k -> new HashMap<>())
                .put(value.partition(), value.time()));
        Map<String, List<Ordered>> byKey = new LinkedHashMap<>();
        for (UpsertCommand record : records) {
            Long position = positions.get(record.partition());
            if (position != null && record.offset() < position) {
                continue;
            }
            Map<Integer, Long> previous = previousTimes.computeIfAbsent(record.flinkKey(), k -> new HashMap<>());
            long time = Math.max(record.time(), previous.getOrDefault(record.partition(), Long.MIN_VALUE));
            previous.put(record.partition(), time);
            byKey.computeIfAbsent(record.flinkKey(), k -> new ArrayList<>())
                    .add(new Ordered(time, record.partition(), record.offset(), record.value()));
        }
        return byKey;
    }

    private Ordered storedOrder(String key) {
        UpsertCommand value = stored.get(key);
        return value == null ? null : new Ordered(value.time(), value.partition(), value.offset(), value.value());
    }

    /** The consolidated changelog the run must produce. */
    public Map<Row, Long> changelog() {
        Map<Row, Long> rows = new HashMap<>();
        Map<String, List<Ordered>> byKey = commandsByKey();
        for (Map.Entry<String, List<Ordered>> entry : byKey.entrySet()) {
            String key = entry.getKey();
            Ordered storedValue = storedOrder(key);
            TreeMap<Long, Ordered> winners = new TreeMap<>();
            for (Ordered command : entry.getValue()) {
                if (storedValue != null && command.compareTo(storedValue) <= 0) {
                    continue;
                }
                long at = rehydratedFrom != Long.MAX_VALUE ? Math.max(command.time(), rehydratedFrom) : command.time();
                winners.merge(at, command, (a, b) -> a.compareTo(b) >= 0 ? a : b);
            }
            UpsertValue value = storedValue == null ? null : storedValue.value();
            for (Map.Entry<Long, Ordered> winner : winners.entrySet()) {
                UpsertValue next = winner.getValue().value();
                long time = winner.getKey();
                if (next != null && next.equals(value)) {
                    continue;
                }
                if (value != null) {
                    rows.merge(new Row(key, value, time), -1L, Long::sum);
                }
                if (next != null) {
                    rows.merge(new Row(key, next, time), 1L, Long::sum);
                }
                value = next;
            }
        }
        rows.values().removeIf(diff -> diff == 0);
        return rows;
    }

    /** The rows of {@link #changelog} at times below {@code frontier}: final once the output frontier passed them. */
    public Map<Row, Long> changelogBelow(long frontier) {
        Map<Row, Long> rows = changelog();
        rows.keySet().removeIf(row -> row.time() >= frontier);
        return rows;
    }

    /** Each key's final value (absent keys left out): the value of its highest order key, stored value included. */
    public Map<String, UpsertValue> finalValues() {
        Map<String, Ordered> last = new HashMap<>();
        stored.keySet().forEach(key -> last.put(key, storedOrder(key)));
        commandsByKey().forEach((key, commands) -> {
            for (Ordered command : commands) {
                last.merge(key, command, (a, b) -> a.compareTo(b) >= 0 ? a : b);
            }
        });
        Map<String, UpsertValue> values = new HashMap<>();
        last.forEach((key, command) -> {
            if (command.value() != null) {
                values.put(key, command.value());
            }
        });
        return values;
    }
}
