package io.upsertfeedback.job;

import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaCommandSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.TierWrapper;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedback;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.TimeUtils;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The job graph shared by {@code run} and {@code local} (DESIGN.md, "Pipeline"):
 * Kafka source (commands; dead letters to their topic) and the feedback source (the store's values
 * and {@code P}) into the upsert feedback operator, whose updates go forward into the tiered store
 * sink.
 *
 * <p>Commands get their time from the records alone (SPEC section 2): {@code CommandTimes}, chained
 * to the source, raises each to its partition's watermark, so a replay assigns the same times.
 *
 * <p>Rehydration: before building, the store's frontier record is read. When a job has written to
 * the store before (its frontier was claimed), the Kafka source starts at the positions recorded
 * with {@code P} instead of {@code kafka.starting-offsets}, a partition without one at its earliest
 * offset (a store whose writer died before every subtask acknowledged a position records none for
 * it, and starting such a partition at {@code latest} would skip commands the store never got);
 * an operator that starts without state drops commands below them, which the store already holds. A
 * restore from a checkpoint or savepoint ({@code flink run -s}) overrides both: the source resumes
 * at its checkpointed offsets and the restored operator ignores the positions (its state never saw
 * what it replays, whatever the store did since).
 *
 * <p>Public for the end-to-end benchmark ({@code bench}), which runs this very graph.
 */
public final class Pipeline {
    private Pipeline() {
    }

    /** The commands of a built pipeline and the operator's updates (for extra sinks). */
    public record Built(SingleOutputStreamOperator<UpsertCommand> commands, SingleOutputStreamOperator<Update> updates,
                 Map<Integer, Long> resumedFrom) {
    }

    /**
     * Explicit points where failure tests wrap real parts of the graph (never used in production):
     * a stage between the Kafka source and the operator, a stage between the operator and the sink
     * (chained to the operator: a failure there fails the operator's task), and the sink's tiers.
     */
    record Hooks(UnaryOperator<DataStream<UpsertCommand>> afterSource, UnaryOperator<DataStream<Update>> beforeSink,
                 TierWrapper tiers) {
        static final Hooks NONE = new Hooks(UnaryOperator.identity(), UnaryOperator.identity(), TierWrapper.NONE);
    }

    /**
     * Adds the pipeline to {@code env}. {@code bounded}: the Kafka source stops at the end offsets
     * as of the start (the input then ends and its frontier becomes +inf).
     */
    public static Built build(StreamExecutionEnvironment env, Configuration conf, boolean bounded) throws Exception {
        return build(env, conf, bounded, Hooks.NONE);
    }

    /** As {@link #build(StreamExecutionEnvironment, Configuration, boolean)}, with {@code hooks} in place. */
    static Built build(StreamExecutionEnvironment env, Configuration conf, boolean bounded, Hooks hooks) throws Exception {
        UpsertOptions options = UpsertOptions.fromConfiguration(conf);
        TieredStoreSink.Builder sink = sink(conf, options).setTierWrapper(hooks.tiers());
        KafkaCommandSource.Builder source = KafkaCommandSource.builder().fromConfiguration(conf);
        Optional<Map<Integer, Long>> recorded = recordedPositions(conf);
        Map<Integer, Long> positions = recorded.orElse(Map.of());
        if (recorded.isPresent()) {
            source.resumeFrom(positions);
            options = options.withResumePositions(positions);
        }
        if (bounded) {
            source.bounded();
        }
        SingleOutputStreamOperator<UpsertCommand> commands = UpsertFeedback.commandTimes(source.build().addTo(env),
                options.tick(), conf.get(KafkaIngestOptions.OUT_OF_ORDERNESS));
        DataStream<UpsertCommand> feedback = env.fromSource(FeedbackSource.builder().setStoreConfig(conf).build(),
                WatermarkStrategy.noWatermarks(), "feedback").uid("feedback-source");
        SingleOutputStreamOperator<Update> updates = UpsertFeedback.apply(hooks.afterSource().apply(commands), feedback, options);
        hooks.beforeSink().apply(updates).sinkTo(sink.build())
                .name("tiered-store").uid("tiered-store-sink")
                .setParallelism(updates.getParallelism());
        return new Built(commands, updates, positions);
    }

    /**
     * Checks the options the graph is built from (the source's, with the value format's schema files
     * read, the sink's, and their combinations) without building it, so that {@code local} refuses them before it starts a broker, a
     * store and a job.
     *
     * @throws IllegalConfigurationException naming the option and the fix
     */
    static void checkOptions(Configuration conf) {
        KafkaCommandSource.builder().fromConfiguration(conf);
        TieredStoreSink.checkOptions(conf);
        sink(conf, UpsertOptions.fromConfiguration(conf));
    }

    /**
     * The sink's builder. With a bounded {@code upsert.lead} (Materialize's strict rule) every tick
     * waits for the store, so the sink must not hold keys while catching up: its
     * {@code sink.catch-up.max-hold} becomes 0, and a non-zero value set explicitly is refused.
     */
    private static TieredStoreSink.Builder sink(Configuration conf, UpsertOptions options) {
        TieredStoreSink.Builder sink = TieredStoreSink.builder().setStoreConfig(conf);
        if (options.lead().isPresent()) {
            Duration hold = conf.getOptional(TieredStoreSink.CATCH_UP_MAX_HOLD).orElse(Duration.ZERO);
            if (!hold.isZero()) {
                throw new IllegalConfigurationException("Option '" + TieredStoreSink.CATCH_UP_MAX_HOLD.key() + "' is " + TimeUtils.formatWithHighestUnit(hold)
                        + " but '" + UpsertOptions.LEAD.key() + "' is set: with a bounded lead every tick waits for the store, "
                        + "and a sink holding keys would stall it. Remove '" + TieredStoreSink.CATCH_UP_MAX_HOLD.key()
                        + "' (or set it to 0), or unset '" + UpsertOptions.LEAD.key() + "'.");
            }
            sink.set(TieredStoreSink.CATCH_UP_MAX_HOLD, Duration.ZERO);
        }
        return sink;
    }

    /** The source positions recorded with the store's persist frontier; none for a store no job has claimed. */
    private static Optional<Map<Integer, Long>> recordedPositions(Configuration conf) throws Exception {
        try (PersistFrontier frontier = Stores.openFrontier(conf)) {
            return frontier.observeLease().owner() == null ? Optional.empty() : Optional.of(frontier.read().positions());
        }
    }
}
