package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.KafkaCommandSource;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.operators.Frontiers;
import io.upsertfeedback.operators.UpsertFeedback;

import java.io.IOException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.OptionalLong;

/**
 * The one-line progress report of {@code local}, from the job's metrics ({@link ProgressMetrics})
 * and the store:
 * {@code [05:26:22] commands in 4,011 | updates out 5,327 | dead letters 0 | error values 0 | I 05:26:21 | P 05:26:21 | store 869 keys (10 in long-term tier)}.
 * Commands read from Kafka; updates the operator emitted (retractions and inserts); records sent
 * to the dead-letter topic; commands whose value did not decode; the input frontier {@code I}
 * ({@code -} once a bounded input ended); the persist frontier {@code P}; the live keys in the
 * store and how many are in the long-term tier.
 */
final class ProgressLine {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");
    private static final DateTimeFormatter DATE_AND_CLOCK = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");
    private static final String SOURCE = "Source: " + KafkaCommandSource.SOURCE_NAME;

    private ProgressLine() {
    }

    /** The line as of now. */
    static String of(StoreHandle store) throws IOException {
        OptionalLong watermark = ProgressMetrics.min(KafkaCommandSource.COMMANDS_NAME, "currentOutputWatermark");
        String input = watermark.isPresent() ? time(saturatedIncrement(watermark.getAsLong())) : "-";
        long deadLetters = ProgressMetrics.sum(SOURCE, "deadLetters");
        long persist = store.frontier().read().p();
        long keys = 0;
        long longTerm = 0;
        try (CloseableIterator<StoredRow> rows = store.store().highVolume().scan(null)) {
            while (rows.hasNext()) {
                RowState.Kind kind = rows.next().state().kind();
                keys += kind == RowState.Kind.INLINE || kind == RowState.Kind.TOMBSTONE ? 1 : 0;
                longTerm += kind == RowState.Kind.TOMBSTONE ? 1 : 0;
            }
        } catch (Exception e) {
            throw new IOException("cannot scan the store", e);
        }
        return String.format("[%s] commands in %,d | updates out %,d | dead letters %,d | error values %,d | I %s | P %s "
                        + "| store %,d keys (%,d in long-term tier)",
                LocalTime.now().format(CLOCK), ProgressMetrics.sum(SOURCE, "numRecordsOut") - deadLetters,
                updatesOut(), deadLetters, ProgressMetrics.sum(SOURCE, "errorValues"), input, time(persist), keys, longTerm);
    }

    /** Data updates the operator emitted: an insert, a retraction and an insert per changed value, a retraction per delete. */
    private static long updatesOut() {
        String op = UpsertFeedback.OPERATOR_NAME;
        return ProgressMetrics.sum(op, "inserts") + 2 * ProgressMetrics.sum(op, "updates") + ProgressMetrics.sum(op, "deletes");
    }

    private static long saturatedIncrement(long watermark) {
        return watermark == Long.MIN_VALUE || watermark == Long.MAX_VALUE ? watermark : watermark + 1;
    }

    /** A frontier in the local time zone (see {@link #time(long, LocalDate)}), today being the clock's date. */
    static String time(long t) {
        return time(t, LocalDate.now());
    }

    /**
     * A frontier (ms since the epoch) in the local time zone: the time of day when its date is
     * {@code today}, else date and time ({@code 2023-11-14 22:14:46}: record times are data, a day
     * or a year away from the clock); {@code -inf} below every real time (also an empty store's
     * {@link Frontiers#EMPTY_STORE}), {@code +inf} at the end of input.
     */
    static String time(long t, LocalDate today) {
        if (t <= Frontiers.EMPTY_STORE) {
            return "-inf";
        }
        if (t == Long.MAX_VALUE) {
            return "+inf";
        }
        LocalDateTime at = LocalDateTime.ofInstant(Instant.ofEpochMilli(t), ZoneId.systemDefault());
        return at.toLocalDate().equals(today) ? at.format(CLOCK) : at.format(DATE_AND_CLOCK);
    }
}
