package io.upsertfeedback.connectors.feedback;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The feedback source on a MiniCluster: it feeds every stored value (small, large, error; not the
 * deleted one) with its order key and time before its first watermark {@code P - 1}, then follows
 * the frontier row as it advances, and ends when {@code P} reaches {@code Long.MAX_VALUE}.
 */
class FeedbackSourceTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    /** Everything the probe saw, in order: commands and "wm:<timestamp>". */
    static final BlockingQueue<Object> EVENTS = new LinkedBlockingQueue<>();

    @TempDir
    Path dir;

    /** Records elements and watermarks in arrival order. */
    static final class Probe extends AbstractStreamOperator<UpsertCommand> implements OneInputStreamOperator<UpsertCommand, UpsertCommand> {
        @Override
        public void processElement(StreamRecord<UpsertCommand> element) {
            EVENTS.add(element.getValue());
            output.collect(element);
        }

        @Override
        public void processWatermark(Watermark mark) throws Exception {
            EVENTS.add("wm:" + mark.getTimestamp());
            super.processWatermark(mark);
        }
    }

    @Test
    void rehydratesStoredValuesThenFollowsTheFrontier() throws Exception {
        String table = TestBigtable.freshTable("feedback");
        Configuration conf = TestBigtable.emulator().storeConfig(table, dir.resolve("objects"));
        conf.set(StoreOptions.INLINE_THRESHOLD, MemorySize.parse("1kb"));
        byte[] large = new byte[5000];
        new Random(3).nextBytes(large);
        Set<UpsertCommand> expected = new HashSet<>();
        try (StoreHandle handle = Stores.open(conf, "seed")) {
            List<UpsertCommand> stored = List.of(
                    UpsertCommand.put("a".getBytes(UTF_8), UpsertValue.of("small".getBytes(UTF_8)), 0, 10, 50),
                    UpsertCommand.put("b".getBytes(UTF_8), UpsertValue.of(large), 1, 11, 60),
                    UpsertCommand.put("c".getBytes(UTF_8), UpsertValue.error("raw".getBytes(UTF_8), "bad schema id"), 0, 12, 70));
            for (UpsertCommand c : stored) {
                handle.store().put(c.key(), c.value(), c.time(), c.partition(), c.offset());
                expected.add(c);
            }
            handle.store().put("d".getBytes(UTF_8), UpsertValue.of(new byte[] {1}), 40, 0, 5);
            handle.store().delete("d".getBytes(UTF_8), 80, 0, 13);
            handle.store().drainCleanup();
            handle.frontier().claim("seed", 0, 1, Duration.ofMinutes(1)).advance(new FrontierState(100L, Map.of(0, 13L, 1, 12L)));
        }
        assertEquals(new FrontierState(100L, Map.of(0, 13L, 1, 12L)), FeedbackSource.readFrontier(conf));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSource(FeedbackSource.builder().setStoreConfig(conf).setPollInterval(Duration.ofMillis(20)).build(),
                        WatermarkStrategy.noWatermarks(), "feedback").setParallelism(2)
                .transform("probe", UpsertCommandSerializer.TYPE_INFO, new Probe()).setParallelism(1)
                .sinkTo(new DiscardingSink<>()).setParallelism(1);
        JobClient job = env.executeAsync("feedback");

        List<Object> beforeFirstWatermark = new ArrayList<>();
        Object event;
        while (!("wm:99").equals(event = EVENTS.poll(60, TimeUnit.SECONDS))) {
            assertNotNull(event, "no watermark 99 within a minute");
            beforeFirstWatermark.add(event);
        }
        assertEquals(expected, new HashSet<>(beforeFirstWatermark), "every stored value, then watermark P - 1");

        try (StoreHandle handle = Stores.open(conf, "seed")) {
            PersistFrontier.Lease seed = handle.frontier().claim("seed", 0, 1, Duration.ofMinutes(1));
            seed.advance(new FrontierState(150L, Map.of(0, 20L)));
            assertEquals("wm:149", EVENTS.poll(60, TimeUnit.SECONDS));
            seed.advance(new FrontierState(Long.MAX_VALUE, Map.of(0, 30L)));
        }
        job.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertEquals("wm:" + (Long.MAX_VALUE - 1), EVENTS.poll(60, TimeUnit.SECONDS));
    }
}
