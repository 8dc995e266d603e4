package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.connectors.testing.DeadLetterTopic;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.schemas.DeadLetter;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The source against a real broker on a MiniCluster: commands in offset order per partition, dead
 * letters in their topic, and an empty partition does not hold the watermark back once idle.
 */
class KafkaCommandSourceTest {
    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stopKafka() throws Exception {
        kafka.close();
    }

    @Test
    void readsCommandsAndRoutesDeadLetters() throws Exception {
        kafka.createTopic("src", 2);
        kafka.createTopic("src-dead", 1);
        long t0 = 1_700_000_000_000L;
        try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
            for (int i = 0; i < 300; i++) {
                byte[] value = i % 10 == 9 ? null : ("v" + i).getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>("src", i % 2, t0 + i * 100L, ("k" + i % 37).getBytes(StandardCharsets.UTF_8), value));
            }
            producer.send(new ProducerRecord<>("src", 0, t0, null, "no key".getBytes(StandardCharsets.UTF_8)));
            producer.send(new ProducerRecord<>("src", 1, t0, new byte[5000], "big key".getBytes(StandardCharsets.UTF_8)));
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        KafkaCommandSource source = KafkaCommandSource.builder()
                .bootstrapServers(kafka.bootstrapServers()).topic("src").deadLetterTopic("src-dead")
                .bounded().build();
        List<UpsertCommand> commands = new ArrayList<>();
        try (CloseableIterator<UpsertCommand> it = source.addTo(env).executeAndCollect()) {
            it.forEachRemaining(commands::add);
        }

        assertEquals(300, commands.size());
        for (int p = 0; p < 2; p++) {
            int partition = p;
            List<UpsertCommand> inPartition = commands.stream().filter(c -> c.partition() == partition)
                    .sorted(Comparator.comparingLong(UpsertCommand::offset)).toList();
            assertEquals(150, inPartition.size());
            for (UpsertCommand c : inPartition) {
                int i = (int) (2 * c.offset() + partition);
                assertEquals("k" + i % 37, new String(c.key(), StandardCharsets.UTF_8));
                assertEquals(i % 10 == 9, c.isDelete());
                assertEquals((t0 + i * 100L) / 1000 * 1000, c.time());
            }
        }

        List<DeadLetter> letters = DeadLetterTopic.read(kafka, "src-dead", 2);
        letters.sort(Comparator.comparingInt(DeadLetter::getPartition));
        assertEquals("null key", letters.get(0).getReason());
        assertEquals(0, letters.get(0).getPartition());
        assertEquals(150, letters.get(0).getOffset());
        assertTrue(letters.get(1).getReason().startsWith("key of 5000 bytes"));
        assertEquals(5000, letters.get(1).getKey().remaining());
    }

    /** The largest watermark seen after the source (a lower bound, set by {@link WatermarkProbe}). */
    private static final AtomicLong WATERMARK = new AtomicLong(Long.MIN_VALUE);

    @Test
    void idlePartitionsDoNotStallTheWatermark() throws Exception {
        kafka.createTopic("idle", 2);
        kafka.createTopic("idle-dead", 1);
        long t0 = 1_700_000_000_000L;
        try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
            for (int i = 0; i < 50; i++) { // partition 1 stays empty
                producer.send(new ProducerRecord<>("idle", 0, t0 + i * 1000L, ("k" + i).getBytes(StandardCharsets.UTF_8), (byte[]) null));
            }
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        KafkaCommandSource.builder().bootstrapServers(kafka.bootstrapServers()).topic("idle").deadLetterTopic("idle-dead")
                .idleness(Duration.ofMillis(500)).build()
                .addTo(env).keyBy(UpsertCommand::flinkKey, Types.STRING).process(new WatermarkProbe()).sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            // the last command is at t0 + 49 s: with no out-of-orderness the watermark reaches t0 + 49 s - 1
            while (WATERMARK.get() < t0 + 49_000 - 1 && System.nanoTime() < deadline) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
            assertEquals(t0 + 49_000 - 1, WATERMARK.get());
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    /** An event-time timer just below each command's time: when it fires, the watermark has reached it. */
    private static final class WatermarkProbe extends KeyedProcessFunction<String, UpsertCommand, UpsertCommand> {
        @Override
        public void processElement(UpsertCommand command, Context ctx, Collector<UpsertCommand> out) {
            ctx.timerService().registerEventTimeTimer(command.time() - 1);
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<UpsertCommand> out) {
            WATERMARK.accumulateAndGet(timestamp, Math::max);
        }
    }
}
