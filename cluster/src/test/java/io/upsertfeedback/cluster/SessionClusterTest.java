package io.upsertfeedback.cluster;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.StoredEntry;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The job on a real Flink standalone session cluster: a JobManager and TaskManagers in their own
 * JVMs ({@link SessionCluster}, the cluster classpath of this module, {@code flink-conf/} as the
 * configuration directory), the shaded {@code job/target/upsert-feedback-job.jar} submitted through
 * Flink's command-line client exactly as the README says, a real broker and the Bigtable emulator,
 * with a local directory as the long-term tier shared by the processes. One cluster serves every
 * step, in order: the steps are one scenario. The oracle is {@link Traffic}'s: per key, the last
 * command sent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SessionClusterTest {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Path JOB_JAR = REPO.resolve("job/target/upsert-feedback-job.jar");
    private static final String TOPIC = "upserts";
    private static final int PARTITIONS = 4;
    private static final String TABLE = "upsert-feedback";
    private static final long TICK = 1000;
    private static final Duration AWAIT = Duration.ofMinutes(5);
    /**
     * sink.writer-lease of the submitted jobs (default 30 s): longer than a stop and a resubmission
     * take here, so that a successor that had to wait for the stopped job's lease would show.
     */
    private static final Duration LEASE = Duration.ofSeconds(90);
    /** The Flink processes' output, kept after the test. */
    private static final Path LOGS = Path.of("target/session-cluster-logs");

    private Path work;
    private EmbeddedKafka kafka;
    private EmbeddedBigtable bigtable;
    private SessionCluster cluster;
    private StoreHandle store;
    private Traffic traffic;
    private Process taskManager;
    private List<String> jobArgs;
    private String jobId;

    @BeforeAll
    void start() throws Exception {
        assertTrue(Files.isRegularFile(JOB_JAR), JOB_JAR + " is missing: build the job module first (mvn verify builds it)");
        work = Files.createTempDirectory("session-cluster-test");
        deleteRecursively(LOGS);
        kafka = EmbeddedKafka.start(work.resolve("kafka"));
        kafka.createTopic(TOPIC, PARTITIONS);
        kafka.createTopic("upserts-dead-letters", 1);
        bigtable = EmbeddedBigtable.start();
        Map<String, String> overrides = new HashMap<>();
        overrides.put("rest.port", String.valueOf(freePort()));
        overrides.put("rest.bind-address", "localhost");
        overrides.put("jobmanager.rpc.port", String.valueOf(freePort()));
        overrides.put("jobmanager.bind-host", "localhost");
        overrides.put("taskmanager.bind-host", "localhost");
        overrides.put("taskmanager.host", "localhost");
        // A killed TaskManager is noticed after two failed heartbeat calls (refused connections) 1 s apart instead of 10 s
        // apart; a slow but live one still has the default 50 s.
        overrides.put("heartbeat.interval", "1 s");
        // One slot more than the rescaled job takes, for the second job of the last step.
        overrides.put("taskmanager.numberOfTaskSlots", "3");
        cluster = SessionCluster.startJobManager(Files.readString(Path.of("target/cluster-classpath.txt")).trim(),
                REPO.resolve("flink-conf"), LOGS, overrides, AWAIT);
        taskManager = cluster.startTaskManager();
        cluster.awaitTaskManagers(1, AWAIT);

        Path longTerm = Files.createDirectories(work.resolve("long-term"));
        jobArgs = List.of("-Dkafka.bootstrap-servers=" + kafka.bootstrapServers(),
                "-Dstore.bigtable.emulator-host=" + bigtable.endpoint(), "-Dstore.bigtable.create-table=true",
                "-Dstore.long-term.path=" + longTerm,
                "-Dexecution.checkpointing.dir=" + work.resolve("checkpoints").toUri(),
                "-Dexecution.checkpointing.interval=2 s", "-Dsink.writer-lease=" + LEASE.toSeconds() + " s");
        Configuration storeConf = bigtable.storeConfig(TABLE, longTerm);
        bigtable.createTable(TABLE);
        store = Stores.open(storeConf, "cluster-test");
        traffic = new Traffic(kafka.newProducer(), TOPIC, PARTITIONS, 500, 300);
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {traffic, cluster, store, bigtable, kafka}) {
            if (c != null) {
                c.close();
            }
        }
        if (work != null) {
            deleteRecursively(work);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    @Order(1)
    void submittedJarRunsAndTheStoreEqualsTheOracle() throws Exception {
        SessionCluster.Cli run = flinkRun(List.of("-d", "-p", "1"));
        assertEquals(0, run.exitCode(), run.output());
        jobId = jobIdOf(run.output());
        awaitRunning(jobId);
        traffic.resume();
        awaitSeconds(4);
        Traffic.Snapshot snapshot = traffic.pause();
        Duration lag = awaitPersisted(snapshot);
        assertStoreEquals(snapshot, "first run");

        // The operator's metrics through the REST API: inserts - deletes = live keys (from an empty store, no failure:
        // a restart would start the counters again from zero on restored state).
        JsonNode restarts = cluster.awaitRest("/jobs/" + jobId + "/metrics?get=numRestarts", m -> m.has(0), AWAIT);
        assertEquals(0, restarts.path(0).path("value").asLong(-1), "restarts of the job: " + exceptions(jobId));
        // The JobManager fetches metrics periodically: wait until it shows the counts of the drained commands.
        long[] counts = new long[2];
        awaitCondition(() -> {
            counts[0] = operatorMetric(jobId, ".upsert-feedback.inserts");
            counts[1] = operatorMetric(jobId, ".upsert-feedback.deletes");
            return counts[0] - counts[1] == snapshot.expected().size();
        }, () -> "live keys by the operator's metrics: inserts " + counts[0] + " - deletes " + counts[1] + " = " + (counts[0] - counts[1])
                + ", expected " + snapshot.expected().size());
        assertEquals(0, operatorMetric(jobId, ".deadLetters"), "dead letters");
        System.out.printf("[cluster] submit %d ms; %d data commands, %d live keys; P passed the last command %d ms after it was acknowledged%n",
                run.took().toMillis(), snapshot.dataCommands(), snapshot.expected().size(), lag.toMillis());
    }

    @Test
    @Order(2)
    void taskManagerKilledMidStreamRecoversWithNothingLostOrTwice() throws Exception {
        traffic.resume();
        awaitSeconds(2);
        awaitCompletedCheckpoint(jobId);
        awaitSeconds(1);
        long killed = System.nanoTime();
        taskManager.destroyForcibly(); // SIGKILL
        taskManager.waitFor();
        taskManager = cluster.startTaskManager();
        cluster.awaitTaskManagers(1, AWAIT);
        JsonNode restored = cluster.awaitRest("/jobs/" + jobId + "/checkpoints", c -> c.path("latest").path("restored").has("id"), AWAIT)
                .path("latest").path("restored");
        assertTrue(!restored.path("is_savepoint").asBoolean(), "restored from a checkpoint: " + restored);
        awaitRunning(jobId);
        long running = System.nanoTime();
        awaitSeconds(2);
        Traffic.Snapshot snapshot = traffic.pause();
        awaitPersisted(snapshot);
        long persisted = System.nanoTime();
        assertStoreEquals(snapshot, "after the TaskManager was killed");
        System.out.printf("[cluster] SIGKILL of the TaskManager: job running again after %d ms (new TaskManager included), "
                        + "restored from checkpoint %s; store equal to the oracle %d ms after the kill%n",
                TimeUnit.NANOSECONDS.toMillis(running - killed), restored.path("id").asText(), TimeUnit.NANOSECONDS.toMillis(persisted - killed));
    }

    @Test
    @Order(3)
    void stopWithSavepointAndRescaleToTwoWhileTrafficGoesOn() throws Exception {
        traffic.resume();
        awaitSeconds(1);
        Path savepoints = work.resolve("savepoints");
        SessionCluster.Cli stop = cluster.flink("stop", List.of("--savepointPath", savepoints.toUri().toString(), jobId), AWAIT);
        assertEquals(0, stop.exitCode(), stop.output());
        Matcher m = Pattern.compile("Savepoint completed\\. Path: (\\S+)").matcher(stop.output());
        assertTrue(m.find(), stop.output());
        String savepoint = m.group(1);
        long bytes = sizeOf(savepoints);
        String oldJob = jobId;

        long stopped = System.nanoTime();
        SessionCluster.Cli run = flinkRun(List.of("-d", "-p", "2", "-s", savepoint));
        assertEquals(0, run.exitCode(), run.output());
        jobId = jobIdOf(run.output());
        assertNotEquals(oldJob, jobId);
        // restored from the stopped job's savepoint, the new job succeeds its writer and starts at once,
        // though the stopped job's lease (LEASE) is still live: before the fix it was fenced off and failed
        awaitRunning(jobId);
        assertTrue(System.nanoTime() - stopped < LEASE.toNanos(), "the resubmitted job ran before the stopped job's lease expired");
        for (JsonNode v : cluster.get("/jobs/" + jobId).path("vertices")) {
            if (v.path("name").asText().contains("upsert-feedback")) {
                assertEquals(2, v.path("parallelism").asInt(), "the operator's parallelism after the rescale");
            }
        }
        awaitSeconds(3);
        Traffic.Snapshot snapshot = traffic.pause();
        awaitPersisted(snapshot);
        assertStoreEquals(snapshot, "after the rescale from a savepoint");
        System.out.printf("[cluster] stop with savepoint %d ms, savepoint %,d bytes; resubmitted at parallelism 2 in %d ms; store equal to the oracle (%d live keys)%n",
                stop.took().toMillis(), bytes, run.took().toMillis(), snapshot.expected().size());
    }

    @Test
    @Order(4)
    void aSecondJobOnTheSameStoreFailsFastNamingTheStoreAndTheWriter() throws Exception {
        String writer = store.frontier().leaseHolder();
        assertTrue(writer != null, "the running job owns the store's frontier row");
        traffic.resume();
        SessionCluster.Cli second = flinkRun(List.of("-p", "1"));
        assertNotEquals(0, second.exitCode(), second.output());
        assertTrue(second.output().contains(TABLE), "the failure names the store:\n" + second.output());
        assertTrue(second.output().contains(writer), "the failure names the running writer " + writer + ":\n" + second.output());
        // Fast: it fails at its sink's start, without restarts, instead of running or retrying.
        JsonNode failed = cluster.get("/jobs/" + jobIdOf(second.output()));
        assertEquals("FAILED", failed.path("state").asText());
        long failedAfter = failed.path("duration").asLong();
        assertTrue(failedAfter < Duration.ofSeconds(60).toMillis(), "fails fast: the second job ran " + failedAfter + " ms");
        assertEquals("RUNNING", cluster.get("/jobs/" + jobId).path("state").asText(), "the first job goes on");
        Traffic.Snapshot snapshot = traffic.pause();
        awaitPersisted(snapshot);
        assertStoreEquals(snapshot, "after the second job failed");
        System.out.printf("[cluster] a second job on the same store failed %d ms after it was submitted (%d ms with the client's start)%n",
                failedAfter, second.took().toMillis());
    }

    private SessionCluster.Cli flinkRun(List<String> flinkOptions) throws IOException {
        List<String> args = new ArrayList<>(flinkOptions);
        args.add(JOB_JAR.toString());
        args.add("run");
        args.addAll(jobArgs);
        return cluster.flink("run", args, AWAIT);
    }

    private static String jobIdOf(String output) {
        Matcher m = Pattern.compile("JobID ([0-9a-f]{32})").matcher(output);
        assertTrue(m.find(), "no JobID in:\n" + output);
        return m.group(1);
    }

    private void awaitRunning(String job) throws IOException {
        if (awaitRunningOrFailed(job).equals("FAILED")) {
            fail("job " + job + " failed: " + exceptions(job));
        }
    }

    /** Waits until the job runs with every task running, or has failed; returns RUNNING or FAILED. */
    private String awaitRunningOrFailed(String job) throws IOException {
        return cluster.awaitRest("/jobs/" + job, j -> {
            if (j.path("state").asText().equals("FAILED")) {
                return true;
            }
            if (!j.path("state").asText().equals("RUNNING")) {
                return false;
            }
            for (JsonNode v : j.path("vertices")) {
                if (!v.path("status").asText().equals("RUNNING")) {
                    return false;
                }
            }
            return true;
        }, AWAIT).path("state").asText();
    }

    private String exceptions(String job) {
        try {
            return cluster.get("/jobs/" + job + "/exceptions").toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private void awaitCompletedCheckpoint(String job) throws IOException {
        long before = cluster.get("/jobs/" + job + "/checkpoints").path("counts").path("completed").asLong();
        cluster.awaitRest("/jobs/" + job + "/checkpoints", c -> c.path("counts").path("completed").asLong() > before, AWAIT);
    }

    /** Waits until the store's P has passed the last data command's tick; returns how long that took. */
    private Duration awaitPersisted(Traffic.Snapshot snapshot) throws IOException {
        long target = Math.floorDiv(snapshot.lastDataTime(), TICK) * TICK;
        long start = System.nanoTime();
        long deadline = start + AWAIT.toNanos();
        long p;
        while ((p = store.frontier().read().p()) <= target) {
            if (System.nanoTime() > deadline) {
                fail("P " + p + " did not pass " + target + " within " + AWAIT + "; operator: " + operatorGauges()
                        + "; job exceptions: " + exceptions(jobId));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    private void assertStoreEquals(Traffic.Snapshot snapshot, String when) throws Exception {
        Map<String, String> actual = new HashMap<>();
        try (CloseableIterator<StoredEntry> entries = store.store().scan(null)) {
            while (entries.hasNext()) {
                StoredEntry e = entries.next();
                actual.put(new String(e.key(), StandardCharsets.UTF_8), new String(e.value().bytes(), StandardCharsets.UTF_8));
            }
        }
        List<String> wrong = new ArrayList<>();
        for (String key : new TreeSet<>(union(actual.keySet(), snapshot.expected().keySet()))) {
            String want = snapshot.expected().get(key);
            String got = actual.get(key);
            if (want == null ? got != null : !want.equals(got)) {
                wrong.add(key + ": expected " + abbreviate(want) + ", store has " + abbreviate(got));
            }
        }
        assertTrue(wrong.isEmpty(), when + ": " + wrong.size() + " keys differ from the oracle (of " + snapshot.expected().size()
                + " live keys), e.g. " + wrong.subList(0, Math.min(10, wrong.size())));
    }

    private static TreeSet<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        TreeSet<String> all = new TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    private static String abbreviate(String s) {
        return s == null ? "nothing" : s.length() > 40 ? s.substring(0, 40) + "...(" + s.length() + " chars)" : s;
    }

    /**
     * Sum over the subtasks of the metric whose REST id ({@code <operator>.<metric>}) preceded by a dot ends
     * with {@code suffix} (the sink has a {@code deletes} metric too), once the
     * JobManager has fetched it (its metric fetcher runs every few seconds).
     */
    private long operatorMetric(String job, String suffix) throws IOException {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        List<String> seen = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            seen.clear();
            long sum = 0;
            boolean found = false;
            for (JsonNode v : cluster.get("/jobs/" + job).path("vertices")) {
                String base = "/jobs/" + job + "/vertices/" + v.path("id").asText() + "/subtasks/metrics";
                for (JsonNode metric : cluster.get(base)) {
                    String id = metric.path("id").asText();
                    seen.add(id);
                    if (("." + id).endsWith(suffix)) {
                        found = true;
                        for (JsonNode agg : cluster.get(base + "?get=" + id + "&agg=sum")) {
                            sum += agg.path("sum").asLong();
                        }
                    }
                }
            }
            if (found) {
                return sum;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
        }
        return fail("no metric *" + suffix + " on job " + job + " within " + AWAIT + "; metrics: " + seen);
    }

    interface Condition {
        boolean holds() throws IOException;
    }

    private static void awaitCondition(Condition condition, java.util.function.Supplier<String> failure) throws IOException {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                fail(failure.get() + " (waited " + AWAIT + ")");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
        }
    }

    /** The operator's frontier gauges per subtask, for failure messages. */
    private String operatorGauges() {
        try {
            StringBuilder b = new StringBuilder();
            for (JsonNode v : cluster.get("/jobs/" + jobId).path("vertices")) {
                if (!v.path("name").asText().contains("upsert-feedback")) {
                    continue;
                }
                String base = "/jobs/" + jobId + "/vertices/" + v.path("id").asText() + "/subtasks/metrics";
                List<String> ids = new ArrayList<>();
                for (JsonNode metric : cluster.get(base)) {
                    String id = metric.path("id").asText();
                    if (id.matches(".*\\.(inputFrontier|persistFrontier|outputWatermark|stateFrontier|rehydrating|heldTimes|stashEntries)$")) {
                        ids.add(id);
                    }
                }
                b.append(v.path("name").asText()).append(": ").append(ids.isEmpty() ? "no gauges"
                        : cluster.get(base + "?get=" + String.join(",", ids) + "&agg=min,max"));
            }
            return b.toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    /** Lets traffic flow for a while (the traffic thread works meanwhile; nothing is awaited). */
    private static void awaitSeconds(int seconds) {
        LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(seconds));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
