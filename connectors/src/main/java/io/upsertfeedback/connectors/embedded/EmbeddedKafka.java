package io.upsertfeedback.connectors.embedded;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;

/**
 * A real single-node KRaft Kafka cluster (one combined broker+controller) running inside this JVM,
 * started from the Kafka jars through {@link KafkaClusterTestKit}: the same broker code as a
 * production cluster, on a free loopback port, with its log directories in a temporary directory
 * (or {@code baseDir}) that {@link #close()} deletes. Ready in about three seconds.
 *
 * <p>Used by tests, by the job's {@code local} mode and by the benchmarks. Defaults fit one broker:
 * replication factor 1 everywhere, transactions allowed (min ISR 1), records up to 16 MiB so the
 * tiered-storage demo can send values over 1 MiB. Producers are idempotent by default (acks=all).
 *
 * <p>Record times are data here, not the clock: inputs replay days-old or future times. So no
 * record is ever deleted by age ({@code log.retention.ms=-1}; Kafka's default of 7 days, measured
 * on record timestamps, deleted whole segments of 2023-stamped records under a reading source) and
 * the broker accepts any timestamp ahead of its clock ({@code log.message.timestamp.after.max.ms};
 * Kafka's default refuses a batch with a record more than one hour ahead). Upsert topics are
 * compacted ({@link #createUpsertTopic}), as in production, but never while records may still be
 * read: see there.
 */
public final class EmbeddedKafka implements AutoCloseable {
    /** Largest record the broker (and {@link #newProducer()}) accepts. */
    public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    private final KafkaClusterTestKit cluster;

    private EmbeddedKafka(KafkaClusterTestKit cluster) {
        this.cluster = cluster;
    }

    /** Starts a broker with its data in a fresh temporary directory. */
    public static EmbeddedKafka start() throws Exception {
        return start(null);
    }

    /** Starts a broker with its data under {@code baseDir} ({@code null}: a fresh temporary directory), deleted on close. */
    public static EmbeddedKafka start(Path baseDir) throws Exception {
        return start(baseDir, false);
    }

    /**
     * Starts a broker whose data under {@code baseDir} outlives it: kept on close (and after a
     * crash), and a later call on the same directory starts the same cluster on it again, with
     * its topics, records and committed offsets (its cluster id is kept in {@code baseDir/cluster.id}).
     */
    public static EmbeddedKafka startKeeping(Path baseDir) throws Exception {
        return start(Objects.requireNonNull(baseDir), true);
    }

    private static EmbeddedKafka start(Path baseDir, boolean keep) throws Exception {
        TestKitNodes.Builder nodes = new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1);
        if (baseDir != null) {
            nodes.setBaseDirectory(baseDir);
        }
        if (keep) {
            Files.createDirectories(baseDir);
            Path idFile = baseDir.resolve("cluster.id");
            if (!Files.exists(idFile)) {
                Files.writeString(idFile, Uuid.randomUuid().toString());
            }
            nodes.setClusterId(Files.readString(idFile).trim());
        }
        KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(nodes.build())
                .setDeleteOnClose(!keep)
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("offsets.topic.num.partitions", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("message.max.bytes", String.valueOf(MAX_MESSAGE_BYTES))
                .setConfigProp("replica.fetch.max.bytes", String.valueOf(MAX_MESSAGE_BYTES))
                .setConfigProp("auto.create.topics.enable", "false")
                .setConfigProp("log.retention.ms", "-1")
                .setConfigProp("log.message.timestamp.after.max.ms", String.valueOf(Long.MAX_VALUE))
                .build();
        PrintStream stdout = System.out;
        try {
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            try {
                if (!(keep && formatted(baseDir))) {
                    cluster.format(); // prints its bootstrap metadata to stdout, which is the user's console in local mode
                }
            } finally {
                System.setOut(stdout);
            }
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception e) {
            cluster.close();
            throw e;
        }
        return new EmbeddedKafka(cluster);
    }

    /** Whether {@code baseDir} holds the log directories of an earlier start (Kafka refuses to format them again). */
    private static boolean formatted(Path baseDir) throws IOException {
        try (Stream<Path> files = Files.walk(baseDir, 3)) {
            return files.anyMatch(f -> f.getFileName().toString().equals("meta.properties"));
        }
    }

    /** {@code host:port} of the broker, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    /**
     * Creates {@code topic} with {@code partitions} partitions and the broker's defaults (nothing
     * deleted by age, records of any key, null included); an existing topic is left as it is.
     */
    public void createTopic(String topic, int partitions) throws InterruptedException {
        createTopic(topic, partitions, Map.of());
    }

    /**
     * Creates an upsert topic: {@code cleanup.policy=compact} (as upsert topics are in production:
     * never deleted by age or size; a record needs a key), with compaction held back for good
     * ({@code min.compaction.lag.ms} = {@link Long#MAX_VALUE}), so every record produced stays
     * readable and a bounded run can check it read them all (SPEC section 3, invariant 11). An
     * existing topic is left as it is.
     */
    public void createUpsertTopic(String topic, int partitions) throws InterruptedException {
        createTopic(topic, partitions, Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MIN_COMPACTION_LAG_MS_CONFIG, String.valueOf(Long.MAX_VALUE)));
    }

    private void createTopic(String topic, int partitions, Map<String, String> configs) throws InterruptedException {
        Map<String, String> all = new HashMap<>(configs);
        all.put(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, String.valueOf(MAX_MESSAGE_BYTES));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(all))).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create topic " + topic, e.getCause());
            }
        }
    }

    /** The end offset of every partition of {@code topic} (partition -> offset of the next record). */
    public Map<Integer, Long> endOffsets(String topic) throws InterruptedException, ExecutionException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (TopicPartitionInfo p : admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions()) {
                request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
            }
            Map<Integer, Long> ends = new HashMap<>();
            admin.listOffsets(request).all().get().forEach((tp, info) -> ends.put(tp.partition(), info.offset()));
            return ends;
        }
    }

    /** Producer settings for this broker: byte-array serializers, idempotent, large records allowed. */
    public Properties producerProperties() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(MAX_MESSAGE_BYTES));
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return p;
    }

    /** A byte-array producer for this broker (the caller closes it). */
    public KafkaProducer<byte[], byte[]> newProducer() {
        return new KafkaProducer<>(producerProperties());
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
