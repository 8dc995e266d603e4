package io.upsertfeedback.cluster;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.StoreOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.RestOptions;
import sun.misc.Signal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * {@code ./upsert cluster [-Dkey=value ...]}: the job on a local Flink standalone session cluster,
 * the way the cluster test runs it. Starts a KRaft broker (topics {@code upserts} and
 * {@code upserts-dead-letters}) and the Bigtable emulator in this process, a JobManager and one
 * TaskManager as separate JVMs ({@link SessionCluster}, configuration {@code flink-conf/}, web UI on
 * {@code rest.port}), and submits {@code job/target/upsert-feedback-job.jar} with
 * {@code flink run -d ... run -D...}. Checkpoints, savepoints, the long-term tier, the broker's
 * logs and the Flink processes' output go under {@code local-data/cluster} (wiped at start).
 * Ctrl-C stops the Flink processes, the emulator and the broker, in that order, and exits 130.
 * {@code -D} arguments override {@code config.yaml} for the cluster processes.
 */
public final class LocalSessionCluster {
    private static final Duration TIMEOUT = Duration.ofMinutes(2);

    private LocalSessionCluster() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String a : args) {
            if (!a.startsWith("-D") || !a.contains("=")) {
                System.err.println("upsert cluster: unknown argument '" + a + "'. Usage: ./upsert cluster [-Dkey=value ...]");
                System.exit(2);
            }
            overrides.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        }
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : List.of("INT", "TERM")) {
            Signal.handle(new Signal(name), s -> stop.countDown());
        }
        Path confDir = Path.of("flink-conf").toAbsolutePath();
        Configuration conf = GlobalConfiguration.loadConfiguration(confDir.toString(), Configuration.fromMap(overrides));
        Path data = Path.of("local-data/cluster").toAbsolutePath();
        deleteRecursively(data);
        Deque<AutoCloseable> resources = new ArrayDeque<>();
        try {
            EmbeddedKafka kafka = EmbeddedKafka.start(data.resolve("kafka"));
            resources.push(kafka);
            kafka.createTopic(conf.get(KafkaIngestOptions.TOPIC), 4);
            kafka.createTopic(conf.get(KafkaIngestOptions.DEAD_LETTER_TOPIC), 1);
            EmbeddedBigtable bigtable = EmbeddedBigtable.start();
            resources.push(bigtable);
            bigtable.createTable(conf.get(StoreOptions.BIGTABLE_TABLE));

            SessionCluster cluster = SessionCluster.startJobManager(Files.readString(Path.of("cluster/target/cluster-classpath.txt")).trim(),
                    confDir, data.resolve("logs"), overrides, TIMEOUT);
            resources.push(cluster);
            cluster.startTaskManager();
            cluster.awaitTaskManagers(1, TIMEOUT);
            SessionCluster.Cli run = cluster.flink("run", List.of("-d", Path.of("job/target/upsert-feedback-job.jar").toAbsolutePath().toString(),
                    "run", "-Dkafka.bootstrap-servers=" + kafka.bootstrapServers(),
                    "-Dstore.bigtable.emulator-host=" + bigtable.endpoint(),
                    "-Dstore.long-term.path=" + Files.createDirectories(data.resolve("long-term")),
                    "-Dexecution.checkpointing.dir=" + data.resolve("checkpoints").toUri(),
                    "-Dexecution.checkpointing.savepoint-dir=" + data.resolve("savepoints").toUri()), TIMEOUT);
            System.out.print(run.output());
            if (run.exitCode() != 0) {
                throw new IllegalStateException("flink run failed (exit code " + run.exitCode() + ")");
            }
            System.out.printf("%nupsert-feedback runs on a Flink session cluster: web UI %s | Kafka %s | Bigtable emulator %s | "
                            + "Flink logs in %s%nsend traffic with: ./upsert produce -Dkafka.bootstrap-servers=%s%nCtrl-C stops everything%n",
                    "http://localhost:" + conf.get(RestOptions.PORT), kafka.bootstrapServers(), bigtable.endpoint(), data.resolve("logs"),
                    kafka.bootstrapServers());
            stop.await();
            System.out.println("stopping");
        } finally {
            while (!resources.isEmpty()) {
                try {
                    resources.pop().close();
                } catch (Exception e) {
                    System.err.println("while stopping: " + e);
                }
            }
        }
        System.exit(130);
    }

    private static void deleteRecursively(Path dir) throws java.io.IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
