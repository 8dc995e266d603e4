package io.upsertfeedback.connectors.store;

import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The store's persist frontier as a plain value (SPEC section 2): every update at a time below
 * {@code p} is durably written, and {@code positions} are the Kafka source positions (partition ->
 * next offset to read) recorded with it: a job resuming from this store starts reading there.
 * {@code p == Long.MIN_VALUE} with no positions is an empty store; {@code p == Long.MAX_VALUE} a
 * store whose writer reached the end of its input.
 *
 * @param p the persist frontier {@code P}, in the job's time unit (event-time milliseconds)
 * @param positions partition -> offset, immutable
 */
public record FrontierState(long p, Map<Integer, Long> positions) {
    /** The frontier of a store nothing was ever written to. */
    public static final FrontierState EMPTY = new FrontierState(Long.MIN_VALUE, Map.of());

    public FrontierState {
        positions = Map.copyOf(positions);
    }

    /**
     * The store's frontier over the columns its writer's subtasks acknowledged ({@link PersistFrontier}):
     * {@code P} is the minimum frontier, and a partition is a resume position only if every column
     * gives one, at the lowest of them. A subtask that has seen no command of a partition gives no
     * position for it (its keys of that partition may still be on their way to it), so taking the
     * others' would skip its commands on resume; a job resuming on the store reads a partition
     * without a position from its earliest offset, and drops what the store holds already by its
     * order key (SPEC 3.4). No columns: {@link #EMPTY}.
     */
    public static FrontierState fold(Collection<FrontierState> columns) {
        Iterator<FrontierState> it = columns.iterator();
        if (!it.hasNext()) {
            return EMPTY;
        }
        FrontierState first = it.next();
        long p = first.p();
        Map<Integer, Long> positions = new HashMap<>(first.positions());
        while (it.hasNext()) {
            FrontierState column = it.next();
            p = Math.min(p, column.p());
            positions.keySet().retainAll(column.positions().keySet());
            column.positions().forEach((partition, offset) -> positions.computeIfPresent(partition, (k, o) -> Math.min(o, offset)));
        }
        return new FrontierState(p, positions);
    }
}
