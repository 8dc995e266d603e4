package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Consolidation of a changelog: sums the diffs of equal {@code (key, value, time)} rows and drops
 * the rows that sum to zero, so two changelogs describing the same collection compare equal.
 * Also checks SPEC invariant 6 on a changelog (every key holds at most one value, with
 * multiplicity 1, at every time).
 */
public final class Consolidation {
    private Consolidation() {
    }

    /** One row of a collection: a key's value at a time. Values render as text for messages. */
    public record Row(String key, UpsertValue value, long time) {
        @Override
        public String toString() {
            return "(" + key + ", " + render(value) + ", " + time + ")";
        }
    }

    public static String render(UpsertValue value) {
        if (value == null) {
            return "<absent>";
        }
        String text = new String(value.bytes(), StandardCharsets.UTF_8);
        return value.isError() ? "error[" + text + ": " + value.error() + "]" : text;
    }

    /** Consolidates data updates (progress markers are ignored). */
    public static Map<Row, Long> consolidate(List<Update> updates) {
        Map<Row, Long> rows = new HashMap<>();
        for (Update update : updates) {
            if (!update.isProgress()) {
                rows.merge(new Row(UpsertCommand.keyOf(update.key()), update.value(), update.time()), (long) update.diff(),
                        Long::sum);
            }
        }
        rows.values().removeIf(diff -> diff == 0);
        return rows;
    }

    /** Sorted, one row per line: for readable assertion failures. */
    public static String render(Map<Row, Long> rows) {
        return rows.entrySet().stream()
                .sorted(Comparator.comparing((Map.Entry<Row, Long> e) -> e.getKey().key())
                        .thenComparingLong(e -> e.getKey().time())
                        .thenComparing(e -> render(e.getKey().value())))
                .map(e -> e.getKey() + " " + (e.getValue() > 0 ? "+" : "") + e.getValue())
                .collect(Collectors.joining("\n"));
    }

    /**
     * SPEC invariant 6: accumulating the changelog in time order, every key holds at most one
     * value with multiplicity 1 after every time, starting from {@code initial} (the rehydrated
     * values the changelog builds on). Returns a description of the first violation, or {@code null}.
     */
    public static String firstMultiplicityViolation(Map<String, UpsertValue> initial, List<Update> updates) {
        Map<String, TreeMap<Long, List<Update>>> byKeyAndTime = new HashMap<>();
        for (Update update : updates) {
            if (!update.isProgress()) {
                byKeyAndTime.computeIfAbsent(UpsertCommand.keyOf(update.key()), k -> new TreeMap<>())
                        .computeIfAbsent(update.time(), t -> new ArrayList<>()).add(update);
            }
        }
        for (Map.Entry<String, TreeMap<Long, List<Update>>> key : byKeyAndTime.entrySet()) {
            Map<UpsertValue, Long> accumulated = new HashMap<>();
            UpsertValue initialValue = initial.get(key.getKey());
            if (initialValue != null) {
                accumulated.put(initialValue, 1L);
            }
            for (Map.Entry<Long, List<Update>> time : key.getValue().entrySet()) {
                for (Update update : time.getValue()) {
                    accumulated.merge(update.value(), (long) update.diff(), Long::sum);
                }
                accumulated.values().removeIf(count -> count == 0);
                boolean valid = accumulated.isEmpty()
                        || accumulated.size() == 1 && accumulated.values().iterator().next() == 1;
                if (!valid) {
                    return "key " + key.getKey() + " at time " + time.getKey() + " accumulates to "
                            + accumulated.entrySet().stream().map(e -> render(e.getKey()) + " x" + e.getValue())
                            .collect(Collectors.joining(", "));
                }
            }
        }
        return null;
    }

    /**
     * Each key's value after the changelog, starting from {@code initial}: an insert sets it, a
     * retraction of the held value clears it (keys left absent are not in the map).
     */
    public static Map<String, UpsertValue> finalValues(Map<String, UpsertValue> initial, List<Update> updates) {
        Map<String, UpsertValue> values = new HashMap<>(initial);
        for (Update update : updates) {
            if (update.isProgress()) {
                continue;
            }
            String key = UpsertCommand.keyOf(update.key());
            if (update.diff() > 0) {
                values.put(key, update.value());
            } else if (update.value().equals(values.get(key))) {
                values.remove(key);
            }
        }
        return values;
    }
}
