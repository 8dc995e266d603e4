package io.upsertfeedback.job;

import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.testing.TcpProxy;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

import static io.upsertfeedback.job.LoopHarness.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 5, the loop under a storage stall: the operator stops draining past {@code P + lead},
 * holds what arrives in the state backend and holds its output watermark. Its own broker, emulator
 * and cluster: it pushes 80 MB through them.
 */
class StorageStallTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = LoopHarness.miniCluster(2);

    @RegisterExtension
    static final LoopHarness harness = new LoopHarness();

    /**
     * Storage stalls (a TCP proxy cuts the Bigtable connections) while 20,000 then 60,000 commands
     * of 1 KiB arrive: {@code P} stands still, the operator's output watermark stays below
     * {@code P + lead}, every command is held, and from the first to the second measure the heap
     * after GC grows by far less than the further 60 MB of commands (they are in RocksDB; the
     * operator's write-back buffer is set to 1,000 commands here). Storage comes back and the loop
     * resumes: {@code P} moves on. Without checkpoints: with them, the first barrier during the stall waits for the
     * sink's unacknowledged writes (a checkpoint never completes with writes in flight), so the
     * whole job backpressures into Kafka and few commands reach the operator; here they all do.
     */
    @Test
    void stallHoldsTheWatermarkWithAFlatHeap(@TempDir Path dir) throws Exception {
        Configuration conf = harness.conf("stall", dir, 2, Duration.ofSeconds(1));
        conf.set(UpsertOptions.BUFFER_SIZE, MemorySize.parse("256kb"));
        conf.set(StoreOptions.RETRY_MAX_ATTEMPTS, 1_000);
        LoopHarness.Input input = new LoopHarness.Input();
        harness.produce("stall", input, 1_000, 100, 100, T0, new Random(2));
        String[] emulator = harness.bigtable.endpoint().split(":");
        Configuration direct = conf.clone();
        try (TcpProxy proxy = new TcpProxy(emulator[0], Integer.parseInt(emulator[1]))) {
            conf.set(StoreOptions.BIGTABLE_EMULATOR_HOST, proxy.endpoint());
            JobClient job = LoopHarness.submit(conf, 1, Pipeline.Hooks.NONE, null, null, false, false);
            try {
                // one command a tick later lets the last tick drain: nothing eligible is left to write when storage stalls
                harness.produce("stall", input, 1, 1, 1, input.maxTime + 1_000, new Random(4));
                LoopHarness.awaitFrontierPast(direct, job, input.maxTime - 1_000, Duration.ofSeconds(60));
                proxy.cutOff();
                long stalledP = LoopHarness.frontier(direct);
                long first = holdMore(input, 20_000, 1_000_000);
                long before = usedHeapAfterGc();
                long total = holdMore(input, 60_000, 1_000_000);
                long after = usedHeapAfterGc();
                long held = ProgressMetrics.min("upsert-feedback", "stashEntries").orElseThrow();
                System.out.printf("stall: %d commands held, heap after GC %d MB with %d of them, %d MB with all%n",
                        held, before >> 20, first, after >> 20);

                assertEquals(stalledP, LoopHarness.frontier(direct), "P stands still");
                long watermark = ProgressMetrics.min("upsert-feedback", "outputWatermark").orElseThrow();
                assertTrue(watermark < stalledP + 1_000, "the output watermark holds below P + lead: " + (watermark - stalledP));
                assertTrue(held >= total * 9 / 10, "the stalled commands are held: " + held + " of " + total);
                assertTrue(after - before < 20L << 20, "heap grew by " + ((after - before) >> 20)
                        + " MB while 60,000 more commands of 1 KiB were held");

                proxy.restore();
                LoopHarness.awaitFrontierPast(direct, job, stalledP, Duration.ofSeconds(60));
            } finally {
                proxy.restore();
                LoopHarness.cancelQuietly(job);
            }
        }
    }

    /**
     * Produces {@code n} commands of 1 KiB on {@code keys} keys, one tick after the input so far, and
     * waits until the operator received them; returns how many stalled commands it received in all.
     */
    private long holdMore(LoopHarness.Input input, int n, int keys) throws Exception {
        long received = ProgressMetrics.sum("upsert-feedback", "numRecordsIn");
        harness.produce("stall", input, n, keys, 20_000, input.maxTime + 1_000, new Random(n), 1_024);
        LoopHarness.await("every command reached the operator", Duration.ofSeconds(90),
                () -> ProgressMetrics.sum("upsert-feedback", "numRecordsIn") >= received + n);
        stalledSoFar += n;
        return stalledSoFar;
    }

    private long stalledSoFar;

    private static long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
