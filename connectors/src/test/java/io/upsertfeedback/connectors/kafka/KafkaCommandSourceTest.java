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
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
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
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The source against a real broker on a MiniCluster: commands in offset order per partition, dead
 * letters in their topic, only committed transactions, and an empty partition does not hold the
 * watermark back once idle.
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

    /**
     * SPEC section 2: records of aborted transactions are never applied. A real transactional
     * producer commits, aborts, commits; the source (default options) reads only the committed
     * values, while {@code isolation.level=read_uncommitted} given as a client property would read
     * all three, which shows the test can fail.
     */
    @Test
    void abortedTransactionsAreNeverRead() throws Exception {
        kafka.createTopic("tx", 1);
        kafka.createTopic("tx-dead", 1);
        Properties p = kafka.producerProperties();
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "tx-test");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            for (String value : List.of("committed-1", "aborted", "committed-2")) {
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("tx", 0, 1_700_000_000_000L, "k".getBytes(StandardCharsets.UTF_8),
                        value.getBytes(StandardCharsets.UTF_8)));
                producer.flush();
                if (value.equals("aborted")) {
                    producer.abortTransaction();
                } else {
                    producer.commitTransaction();
                }
            }
        }
        assertEquals(List.of("committed-1", "committed-2"), readValues(KafkaCommandSource.builder()));
        assertEquals(List.of("committed-1", "aborted", "committed-2"),
                readValues(KafkaCommandSource.builder().property(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted")));
    }

    private static List<String> readValues(KafkaCommandSource.Builder builder) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        KafkaCommandSource source = builder.bootstrapServers(kafka.bootstrapServers()).topic("tx").deadLetterTopic("tx-dead")
                .bounded().build();
        List<String> values = new ArrayList<>();
        try (CloseableIterator<UpsertCommand> it = source.addTo(env).executeAndCollect()) {
            it.forEachRemaining(c -> values.add(new String(c.value().bytes(), StandardCharsets.UTF_8)));
        }
        return values;
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
