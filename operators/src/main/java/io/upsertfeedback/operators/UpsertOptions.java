package io.upsertfeedback.operators;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.util.TimeUtils;

import java.io.Serializable;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Options of the upsert feedback operator, as Flink {@link ConfigOption}s (so they can be set in
 * the Flink configuration, on the command line with {@code -D}, and appear in generated docs).
 *
 * <p><b>State TTL is forbidden.</b> The operator's keyed state holds each key's prior value; if a
 * TTL expired it, a later command would emit an insert without the retraction of the old value and
 * the collection would hold two values for one key (SPEC invariants 5 and 6). The operator never
 * configures TTL on its state, and {@link #fromConfiguration} refuses a configuration that asks for
 * one ({@link #STATE_TTL} or Flink SQL's {@code table.exec.state.ttl}).
 *
 * <p>Immutable and serializable (it travels inside the operator).
 */
public final class UpsertOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final ConfigOption<Duration> TICK = ConfigOptions.key("upsert.tick")
            .durationType()
            .defaultValue(Duration.ofSeconds(1))
            .withDescription("Granularity of command times: the source coarsens record timestamps to a multiple of "
                    + "this, and it is the unit of upsert.lead. Must be at least 1 ms.");

    public static final ConfigOption<Duration> LEAD = ConfigOptions.key("upsert.lead")
            .durationType()
            .noDefaultValue()
            .withDescription("How far the operator's output may run ahead of what the store has durably written: "
                    + "commands at time t are drained only when t < P + lead, P being the persist frontier. "
                    + "Unset (the default): unbounded, drains are gated by the input frontier alone and a backlog "
                    + "costs no feedback round trip at all (SPEC invariant 12). Set it to one upsert.tick for "
                    + "Materialize's strict rule (drain only t == P): each distinct time then waits one feedback "
                    + "round trip (sink acknowledgement, frontier row write, feedback.poll-interval), i.e. a few "
                    + "ticks per second on a backlog. Must be at least 1 ms when set.");

    public static final ConfigOption<Duration> STATE_TTL = ConfigOptions.key("upsert.state.ttl")
            .durationType()
            .noDefaultValue()
            .withDescription("Not supported, must stay unset: expiring a key's prior value would make the operator "
                    + "emit an insert without retracting the old value. Setting it fails the job at start.");

    public static final ConfigOption<MemorySize> BUFFER_SIZE = ConfigOptions.key("upsert.buffer.size")
            .memoryType()
            .defaultValue(MemorySize.ofMebiBytes(64))
            .withDescription("Heap each operator subtask may use for key states it keeps between state writes (an "
                    + "estimate: key and value bytes plus a fixed overhead per key and per pending command). A key "
                    + "costs one state read when it enters this buffer and one state write when it leaves it (when "
                    + "full the oldest key leaves, unless it got a command since it was last looked at: CLOCK "
                    + "eviction; and at every checkpoint), and no timer, whatever number of commands it gets and "
                    + "drains meanwhile; keys that leave with pending commands are stashed in the state backend "
                    + "with a timer. Bounds the operator's heap independently of the input and of the number of "
                    + "keys. 0 disables the buffer.");

    /** Flink SQL's state TTL; refused here too, so a shared configuration cannot silently enable it. */
    static final ConfigOption<Duration> SQL_STATE_TTL = ConfigOptions.key("table.exec.state.ttl")
            .durationType()
            .defaultValue(Duration.ZERO)
            .withDescription("Flink SQL's idle state retention; must be 0 (disabled) for the upsert feedback job.");

    private final Duration tick;
    private final Duration lead;
    private final Map<Integer, Long> resumePositions;
    private final MemorySize bufferSize;

    private UpsertOptions(Duration tick, Duration lead, Map<Integer, Long> resumePositions, MemorySize bufferSize) {
        this.tick = requireAtLeastOneMilli(TICK, tick);
        this.lead = lead == null ? null : requireAtLeastOneMilli(LEAD, lead);
        this.resumePositions = resumePositions;
        this.bufferSize = Objects.requireNonNull(bufferSize, BUFFER_SIZE.key());
    }

    /** Defaults: 1 s tick, unbounded lead, no resume positions (a fresh job), default buffer size. */
    public static UpsertOptions defaults() {
        return new UpsertOptions(TICK.defaultValue(), null, Map.of(), BUFFER_SIZE.defaultValue());
    }

    /**
     * Reads and validates the options. A bad value fails with a message naming the option and how
     * to fix it.
     */
    public static UpsertOptions fromConfiguration(ReadableConfig config) {
        if (config.getOptional(STATE_TTL).isPresent()) {
            throw new IllegalConfigurationException("Option '" + STATE_TTL.key() + "' is set, but state TTL is not "
                    + "supported: an expired prior value would be inserted again without its retraction. Remove '"
                    + STATE_TTL.key() + "' from the configuration.");
        }
        Duration sqlTtl = config.get(SQL_STATE_TTL);
        if (!sqlTtl.isZero()) {
            throw new IllegalConfigurationException("Option '" + SQL_STATE_TTL.key() + "' is " + sqlTtl + ", but state "
                    + "TTL is not supported by the upsert feedback operator. Set it to 0 or remove it.");
        }
        Duration tick = config.get(TICK);
        return new UpsertOptions(tick, config.getOptional(LEAD).orElse(null), Map.of(), config.get(BUFFER_SIZE));
    }

    private static Duration requireAtLeastOneMilli(ConfigOption<Duration> option, Duration value) {
        Objects.requireNonNull(value, option.key());
        if (value.toMillis() < 1) {
            throw new IllegalConfigurationException("Option '" + option.key() + "' is " + TimeUtils.formatWithHighestUnit(value) + ", but it must be at "
                    + "least 1 ms: a zero or negative " + option.key() + " would never let any command drain. "
                    + "Set e.g. '" + option.key() + ": 1 s'.");
        }
        return value;
    }

    public UpsertOptions withTick(Duration newTick) {
        return new UpsertOptions(newTick, lead, resumePositions, bufferSize);
    }

    /** {@code null}: unbounded (the default). */
    public UpsertOptions withLead(Duration newLead) {
        return new UpsertOptions(tick, newLead, resumePositions, bufferSize);
    }

    /**
     * Rehydration: the source positions recorded with the store's persist frontier. Commands whose
     * offset is below the position of their partition are already in the store; an operator that
     * starts without state drops (and counts) them. A restored operator ignores them (SPEC 3.9).
     * Either way a subtask's progress markers give them for the partitions it has seen no command
     * of yet ({@code HeldTimes#positions}).
     */
    public UpsertOptions withResumePositions(Map<Integer, Long> positions) {
        return new UpsertOptions(tick, lead, new HashMap<>(positions), bufferSize);
    }

    /** See {@link #BUFFER_SIZE}. */
    public UpsertOptions withBufferSize(MemorySize size) {
        return new UpsertOptions(tick, lead, resumePositions, size);
    }

    public Duration tick() {
        return tick;
    }

    /** The lead, empty when unbounded. */
    public java.util.Optional<Duration> lead() {
        return java.util.Optional.ofNullable(lead);
    }

    /** The lead in ms; {@code Long.MAX_VALUE} when unbounded. */
    public long leadMillis() {
        return lead == null ? Long.MAX_VALUE : lead.toMillis();
    }

    /** Partition -> first offset not yet in the store; empty for a fresh job. */
    public Map<Integer, Long> resumePositions() {
        return Map.copyOf(resumePositions);
    }

    public MemorySize bufferSize() {
        return bufferSize;
    }

    @Override
    public String toString() {
        return "UpsertOptions{tick=" + tick + ", lead=" + lead + ", resumePositions=" + resumePositions
                + ", bufferSize=" + bufferSize + "}";
    }
}
