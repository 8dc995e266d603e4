package io.upsertfeedback.operators;

import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import io.upsertfeedback.operators.testing.Consolidation;
import io.upsertfeedback.operators.testing.SpecModel;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The public wiring on a real (local) Flink job: keyBy, the operator, noFeedback, type information. */
class UpsertFeedbackJobTest {
    @Test
    void boundedJobWithoutFeedbackProducesTheCollection() throws Exception {
        List<UpsertCommand> commands = new ArrayList<>();
        for (int i = 0; i < 3_000; i++) {
            byte[] key = ("key" + (i % 100)).getBytes(StandardCharsets.UTF_8);
            long time = i / 300;
            commands.add(i % 7 == 6 ? UpsertCommand.delete(key, 0, i, time)
                    : UpsertCommand.put(key, UpsertValue.of(("v" + i).getBytes(StandardCharsets.UTF_8)), 0, i, time));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<UpsertCommand> source = env.fromData(commands, UpsertCommandSerializer.TYPE_INFO).setParallelism(1)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<UpsertCommand>forMonotonousTimestamps()
                        .withTimestampAssigner((command, ignored) -> command.time()))
                .setParallelism(1);
        List<Update> output = new ArrayList<>();
        UpsertFeedback.apply(source, UpsertFeedback.noFeedback(env), UpsertOptions.defaults())
                .executeAndCollect().forEachRemaining(output::add);

        SpecModel model = new SpecModel(Map.of());
        commands.forEach(model::record);
        assertEquals(Consolidation.render(model.changelog()), Consolidation.render(Consolidation.consolidate(output)));
        assertTrue(output.stream().anyMatch(Update::isProgress), "progress markers reach the sink");
    }
}
