package io.upsertfeedback.job;

import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static io.upsertfeedback.job.LoopHarness.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 5, the loop: the store's {@code P} gates the operator ({@code t < P + lead}); the
 * operator's output watermark drives the sink, the sink drives {@code P}. (A storage stall: {@link StorageStallTest}.)
 */
class FeedbackLoopTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = LoopHarness.miniCluster(4);

    @RegisterExtension
    static final LoopHarness harness = new LoopHarness();

    /**
     * Per probe: the least and the greatest {@code t - P} over the data updates, {@code P} read from
     * the store's frontier row at the moment the update leaves the operator (the probe is chained
     * to it), and their number.
     */
    private static final Map<String, long[]> AHEAD = new ConcurrentHashMap<>();
    private static final Map<String, AtomicLong> PROBED = new ConcurrentHashMap<>();

    /**
     * Between the operator and the sink: reads the store's {@code P} for every data update. While
     * the operator drains time {@code t}, {@code P} cannot pass {@code t} (the output watermark
     * stays below {@code t} until the drain is over), and the operator's own {@code P} is at most
     * the store's, so {@code t - P(store)} bounds how far the operator ran ahead.
     */
    private static final class FrontierProbe extends RichMapFunction<Update, Update> {
        private final Configuration conf;
        private final String name;
        private transient StoreHandle store;

        FrontierProbe(Configuration conf, String name) {
            this.conf = conf;
            this.name = name;
        }

        @Override
        public void open(OpenContext context) throws Exception {
            store = Stores.open(conf, "frontier-probe");
        }

        @Override
        public Update map(Update update) throws Exception {
            if (!update.isProgress()) {
                long ahead = update.time() - store.frontier().read().p();
                AHEAD.compute(name, (k, v) -> v == null ? new long[] {ahead, ahead} : new long[] {Math.min(v[0], ahead), Math.max(v[1], ahead)});
                PROBED.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
            }
            return update;
        }

        @Override
        public void close() throws Exception {
            if (store != null) {
                store.close();
            }
        }
    }

    /** Runs 3,000 commands over 30 ticks with {@code lead}, probing; returns the probe's {@code [min, max]} of {@code t - P}. */
    private static long[] runProbed(String name, Path dir, Duration lead) throws Exception {
        Configuration conf = harness.conf(name, dir, 2, lead);
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce(name, input, 3_000, 300, 100, T0, new Random(1));
        Pipeline.Hooks probe = new Pipeline.Hooks(s -> s, updates -> probe(updates, conf, name), Pipeline.Hooks.NONE.tiers());
        JobClient job = LoopHarness.submit(conf, 2, probe, null, null);
        LoopHarness.awaitFinished(job, Duration.ofSeconds(90));
        LoopHarness.assertStore(conf, input.expected());
        long[] ahead = AHEAD.get(name);
        System.out.println(name + ": " + PROBED.get(name) + " updates, t - P in [" + ahead[0] + ", " + ahead[1] + "] ms");
        return ahead;
    }

    private static DataStream<Update> probe(DataStream<Update> updates, Configuration conf, String name) {
        return updates.map(new FrontierProbe(conf, name)).returns(updates.getType()).name("frontier-probe")
                .setParallelism(updates.getParallelism());
    }

    /** {@code lead = 1 tick}: every update is at exactly the store's {@code P} (Materialize's {@code t == P}); the run completes. */
    @Test
    void leadOfOneTickDrainsOnlyAtP(@TempDir Path dir) throws Exception {
        long[] ahead = runProbed("strict", dir, Duration.ofSeconds(1));
        assertEquals(0, ahead[0], "no update below P");
        assertEquals(0, ahead[1], "no update above P");
    }

    /** A lead of an hour: the operator drains ahead of what the store holds; the run completes. */
    @Test
    void largeLeadRunsAhead(@TempDir Path dir) throws Exception {
        long[] ahead = runProbed("ahead", dir, Duration.ofHours(1));
        assertTrue(ahead[0] >= 0, "no update below P");
        assertTrue(ahead[1] >= 5_000, "the operator ran at least 5 ticks ahead of the store: " + ahead[1]);
    }

}
