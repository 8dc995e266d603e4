package io.upsertfeedback.connectors.store;

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
}
