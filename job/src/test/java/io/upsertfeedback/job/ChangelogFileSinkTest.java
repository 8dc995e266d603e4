package io.upsertfeedback.job;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The changelog file holds each update exactly once, also when the job recovers from a failure:
 * the file used to repeat every update a failed attempt wrote after its last checkpoint, breaking
 * the README's promise that the changelog, summed per (key, value), equals the dump.
 */
class ChangelogFileSinkTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    private static final int UPDATES = 20_000;
    private static final AtomicLong SEEN = new AtomicLong();
    private static final AtomicBoolean CHECKPOINTED = new AtomicBoolean();
    private static final AtomicBoolean FAILED = new AtomicBoolean();

    /**
     * A new user's finding: Ctrl-C with {@code --changelog-to} logged pages of "FATAL - exception in
     * exception handler" (ClosedChannelException): the cancelled task's interrupt closed the part's
     * file channel, and the writer's flush and close then failed.
     */
    @Test
    void aCancelledTasksInterruptDoesNotBreakThePart(@TempDir Path dir) throws Exception {
        Path part = Files.createFile(dir.resolve("changelog.jsonl.part-0"));
        ChangelogFileSink.Writer writer = new ChangelogFileSink.Writer(part, List.of());
        writer.write(Update.insert("k".getBytes(StandardCharsets.UTF_8), UpsertValue.of("v".getBytes(StandardCharsets.UTF_8)),
                5, 0, 0), null);
        Thread.currentThread().interrupt(); // what Flink does to a cancelled task's thread
        try {
            writer.flush(false);
            writer.close();
        } finally {
            Thread.interrupted();
        }
        assertEquals("{\"key\":\"k\",\"value\":\"v\",\"time\":5,\"diff\":1}\n", Files.readString(part));
    }

    /**
     * A new user's finding: an emoji in a key came out of the changelog as an escaped surrogate
     * pair ({@code "\\ud83d\\ude00"}), while the dump, the input and every other tool write it as
     * UTF-8. The changelog now writes it as it is.
     */
    @Test
    void charactersBeyondTheBasicPlaneAreWrittenAsUtf8(@TempDir Path dir) throws Exception {
        Path part = Files.createFile(dir.resolve("part"));
        ChangelogFileSink.Writer writer = new ChangelogFileSink.Writer(part, List.of());
        writer.write(Update.insert("k\uD83D\uDE00".getBytes(StandardCharsets.UTF_8),
                UpsertValue.of("v\uD83C\uDF89".getBytes(StandardCharsets.UTF_8)), 5, 0, 0), null);
        writer.flush(true);
        writer.close();
        assertEquals("{\"key\":\"k\uD83D\uDE00\",\"value\":\"v\uD83C\uDF89\",\"time\":5,\"diff\":1}\n",
                Files.readString(part, StandardCharsets.UTF_8));
    }

    @Test
    void eachUpdateOnceAfterRecovery(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("changelog.jsonl");
        Files.writeString(dir.resolve("changelog.jsonl.part-7"), "left over from an earlier run\n");
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(10));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(2);
        env.enableCheckpointing(50);
        env.fromSequence(0, UPDATES - 1)
                .map(new FailOnceAfterACheckpoint())
                .sinkTo(ChangelogFileSink.create(log));
        env.execute("changelog-sink-test");
        ChangelogFileSink.assemble(log);

        assertTrue(FAILED.get(), "the job failed once (after a checkpoint, past half of the updates)");
        Map<String, Integer> counts = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            JsonNode node = json.readTree(line);
            counts.merge(node.get("key").asText() + "@" + node.get("time").asLong(), 1, Integer::sum);
        }
        assertEquals(UPDATES, counts.size(), "every update is in the file");
        counts.forEach((update, n) -> assertEquals(1, n, update + " is in the file " + n + " times"));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "only the assembled file is left");
        }
    }

    /**
     * Number {@code i} as an insert of key {@code k<i>}; fails once, past half of them, after a
     * checkpoint completed. Pauses 1 ms every 20 numbers, so checkpoints complete while numbers flow.
     */
    private static final class FailOnceAfterACheckpoint implements MapFunction<Long, Update>, CheckpointListener {
        @Override
        public Update map(Long i) {
            if (i % 20 == 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            if (SEEN.incrementAndGet() > UPDATES / 2 && CHECKPOINTED.get() && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("injected failure");
            }
            return Update.insert(("k" + i).getBytes(StandardCharsets.UTF_8), UpsertValue.of(new byte[] {'v'}), i, 0, i);
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            CHECKPOINTED.set(true);
        }
    }
}
