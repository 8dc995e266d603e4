package io.upsertfeedback.job;

import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaCommandSource;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedback;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.schemas.FrontierRecord;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.util.HashMap;
import java.util.Map;

/**
 * The job graph shared by {@code run} and {@code local} (DESIGN.md, "Pipeline"):
 * Kafka source (commands; dead letters to their topic) and the feedback source (the store's values
 * and {@code P}) into the upsert feedback operator, whose updates go forward into the tiered store
 * sink.
 *
 * <p>Rehydration: before building, the store's frontier record is read. When it holds source
 * positions, the Kafka source starts there (instead of {@code kafka.starting-offsets}) and the
 * operator drops commands below them, which the store already holds. A restore from a checkpoint
 * or savepoint overrides both with the checkpointed offsets and state, as usual in Flink.
 */
final class Pipeline {
    private Pipeline() {
    }

    /** The commands of a built pipeline and the operator's updates (for extra sinks). */
    record Built(SingleOutputStreamOperator<UpsertCommand> commands, SingleOutputStreamOperator<Update> updates,
                 Map<Integer, Long> resumedFrom) {
    }

    /**
     * Adds the pipeline to {@code env}. {@code bounded}: the Kafka source stops at the end offsets
     * as of the start (the input then ends and its frontier becomes +inf).
     */
    static Built build(StreamExecutionEnvironment env, Configuration conf, boolean bounded) throws Exception {
        UpsertOptions options = UpsertOptions.fromConfiguration(conf);
        KafkaCommandSource.Builder source = KafkaCommandSource.builder().fromConfiguration(conf);
        Map<Integer, Long> positions = recordedPositions(conf);
        if (!positions.isEmpty()) {
            source.resumeFrom(positions);
            options = options.withResumePositions(positions);
        }
        if (bounded) {
            source.bounded();
        }
        SingleOutputStreamOperator<UpsertCommand> commands = source.build().addTo(env);
        DataStream<UpsertCommand> feedback = env.fromSource(FeedbackSource.builder().setStoreConfig(conf).build(),
                WatermarkStrategy.noWatermarks(), "feedback").uid("feedback-source");
        SingleOutputStreamOperator<Update> updates = UpsertFeedback.apply(commands, feedback, options);
        updates.sinkTo(TieredStoreSink.builder().setStoreConfig(conf).build())
                .name("tiered-store").uid("tiered-store-sink")
                .setParallelism(updates.getParallelism());
        return new Built(commands, updates, positions);
    }

    /** The source positions recorded with the store's persist frontier (empty for a new store). */
    private static Map<Integer, Long> recordedPositions(Configuration conf) throws Exception {
        FrontierRecord frontier = FeedbackSource.readFrontier(conf);
        Map<Integer, Long> positions = new HashMap<>();
        frontier.getPositions().forEach((partition, offset) -> positions.put(Integer.parseInt(partition.toString()), offset));
        return positions;
    }
}
