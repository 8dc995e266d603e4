package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.UpdateSerializer;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;

/** Entry points: wire the upsert feedback operator ({@link UpsertFeedbackOperator}) into a job. */
public final class UpsertFeedback {
    /** Operator name and uid (the uid keeps its state addressable across job versions). */
    public static final String OPERATOR_NAME = "upsert-feedback";
    public static final String OPERATOR_UID = "upsert-feedback";

    private UpsertFeedback() {
    }

    /**
     * Applies the time rule's per-partition part ({@link CommandTimes}) to commands straight from
     * the source: chained to it (same parallelism), so each partition's records arrive in order.
     *
     * @param commands          commands with their record times (coarsened to the tick) and the source's watermarks
     * @param tick              {@code upsert.tick}
     * @param outOfOrderness    the source's out-of-orderness bound
     */
    public static SingleOutputStreamOperator<UpsertCommand> commandTimes(SingleOutputStreamOperator<UpsertCommand> commands,
                                                                        java.time.Duration tick,
                                                                        java.time.Duration outOfOrderness) {
        return commands.transform(CommandTimes.NAME, UpsertCommandSerializer.TYPE_INFO,
                        new CommandTimes(tick.toMillis(), outOfOrderness.toMillis()))
                .uid(CommandTimes.NAME)
                .setParallelism(commands.getParallelism());
    }

    /**
     * Keys both inputs by {@link UpsertCommand#flinkKey} and applies the operator.
     *
     * @param commands upsert commands, timestamped and watermarked with their time ({@code I})
     * @param feedback rehydrated prior values, watermarked with the store's {@code P - 1}
     */
    public static SingleOutputStreamOperator<Update> apply(DataStream<UpsertCommand> commands,
                                                          DataStream<UpsertCommand> feedback,
                                                          UpsertOptions options) {
        return commands.keyBy(UpsertCommand::flinkKey, Types.STRING)
                .connect(feedback.keyBy(UpsertCommand::flinkKey, Types.STRING))
                .transform(OPERATOR_NAME, UpdateSerializer.TYPE_INFO, new UpsertFeedbackOperator(options))
                .uid(OPERATOR_UID);
    }

    /**
     * An empty, bounded feedback input: it ends at once, which the operator reads as "no store",
     * so drains are gated by the input frontier only (as if {@code P = +inf}). For benchmarks and
     * demos without a store.
     */
    public static DataStream<UpsertCommand> noFeedback(StreamExecutionEnvironment env) {
        // Not env.fromData(emptyList): Flink 2.2's generator source fails on an empty collection.
        return env.fromSequence(0, 0)
                .flatMap((Long ignored, Collector<UpsertCommand> out) -> { }, UpsertCommandSerializer.TYPE_INFO)
                .name("no-feedback");
    }
}
