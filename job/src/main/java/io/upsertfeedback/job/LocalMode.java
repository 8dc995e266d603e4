package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.StoredEntry;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.UpsertFeedback;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import sun.misc.Signal;

import java.io.BufferedWriter;
import java.io.IOException;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * {@code local}: the whole product in one process, nothing to install. Starts a real KRaft broker
 * ({@link EmbeddedKafka}) with the upsert and dead-letter topics, the bundled Bigtable emulator
 * ({@link EmbeddedBigtable}) with a local directory as the long-term tier, and runs the pipeline on
 * a MiniCluster (RocksDB state backend, checkpoints under {@code local.data-dir}, web UI on
 * {@code rest.port}). Then either feeds demo traffic ({@link LoadGenerator}) until Ctrl-C, or
 * produces an input file and, with {@code --exit-when-done}, reads it as a bounded input, waits until
 * the store's persist frontier has passed every input time, dumps the store and exits 0: the
 * black-box contract described in the README.
 *
 * <p>Every few seconds it prints one line: commands in, updates out, dead letters, the input
 * frontier {@code I} (from the operator's input watermark), the persist frontier {@code P} (from
 * the store's frontier row) and the store's size (a scan of the Bigtable rows).
 */
final class LocalMode {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");
    /** Operator names of {@code KafkaCommandSource}: the source (records read) and the split (commands, watermark I - 1). */
    private static final String SOURCE = "Source: kafka-source";
    private static final String COMMANDS = "commands";

    /** The flags of {@code local}. */
    record Flags(Path input, boolean exitWhenDone, Path dumpTo, Path changelogTo) {
        static Flags from(Map<String, String> flags) {
            Flags f = new Flags(path(flags.get("--input")), flags.containsKey("--exit-when-done"),
                    path(flags.get("--dump-to")), path(flags.get("--changelog-to")));
            if (f.exitWhenDone && f.input == null) {
                throw new IllegalArgumentException("--exit-when-done needs --input FILE (demo traffic never ends)");
            }
            if (f.dumpTo != null && !f.exitWhenDone) {
                throw new IllegalArgumentException("--dump-to needs --exit-when-done (the dump is taken when the input is done)");
            }
            return f;
        }

        private static Path path(String p) {
            return p == null ? null : Path.of(p);
        }
    }

    private LocalMode() {
    }

    static int run(Configuration conf, Flags flags) throws Exception {
        InputFile input = flags.input() == null ? null : readInput(flags.input());
        Path dataDir = Path.of(conf.get(JobOptions.LOCAL_DATA_DIR)).toAbsolutePath();
        Deque<AutoCloseable> resources = new ArrayDeque<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch stopped = new CountDownLatch(1);
        stopOnSignals(stop);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.set(true);
            try {
                stopped.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "upsert-local-shutdown"));
        try {
            int code = runWith(conf, flags, input, dataDir, resources, stop);
            closeAll(resources, stop.get());
            return code;
        } catch (Exception e) {
            closeAll(resources, true);
            throw e;
        } finally {
            stopped.countDown();
        }
    }

    /**
     * Ctrl-C (SIGINT) and SIGTERM ask for an orderly stop instead of the JVM's shutdown: shutdown
     * hooks run all at once, and the Bigtable emulator's own hook would kill the emulator while the
     * job is still being cancelled, leaving the sink's last flush retrying against nothing. Here
     * the job is cancelled first, then the store, the emulator and the broker are closed, in order.
     * A second signal exits at once.
     */
    private static void stopOnSignals(AtomicBoolean stop) {
        for (String name : List.of("INT", "TERM")) {
            Signal.handle(new Signal(name), signal -> {
                if (!stop.compareAndSet(false, true)) {
                    System.exit(130);
                }
            });
        }
    }

    private static int runWith(Configuration conf, Flags flags, InputFile input, Path dataDir,
                               Deque<AutoCloseable> resources, AtomicBoolean stop) throws Exception {
        deleteRecursively(dataDir);
        Files.createDirectories(dataDir);
        String topic = conf.get(KafkaIngestOptions.TOPIC);
        EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.resolve("kafka"));
        resources.push(kafka);
        kafka.createTopic(topic, conf.get(JobOptions.LOCAL_PARTITIONS));
        kafka.createTopic(conf.get(KafkaIngestOptions.DEAD_LETTER_TOPIC), 1);
        EmbeddedBigtable bigtable = EmbeddedBigtable.start();
        resources.push(bigtable);

        conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        conf.addAll(bigtable.storeConfig(conf.get(StoreOptions.BIGTABLE_TABLE), dataDir.resolve("long-term")));
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dataDir.resolve("checkpoints").toUri().toString());
        ProgressMetrics.reporterConfig().forEach(conf::setString);
        StoreHandle store = Stores.open(conf, "local-client");
        resources.push(store);

        if (input != null) {
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                input.produce(producer, topic);
            }
            System.out.printf("produced %,d commands from %s into topic %s%n", input.lines().size(), flags.input(), topic);
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
        Pipeline.Built built = Pipeline.build(env, conf, flags.exitWhenDone());
        if (flags.changelogTo() != null) {
            ChangelogFileSink.OpenFile changelog = ChangelogFileSink.open(flags.changelogTo());
            resources.push(changelog);
            built.updates().sinkTo(changelog.sink()).name("changelog").uid("changelog-sink")
                    .setParallelism(built.updates().getParallelism());
        }
        JobClient job = start(env, conf);
        resources.push(() -> cancel(job));
        System.out.printf("upsert-feedback is running: Flink web UI http://localhost:%d | Kafka %s, topic %s | Bigtable emulator %s | data in %s%n",
                conf.get(RestOptions.PORT), kafka.bootstrapServers(), topic, bigtable.endpoint(), dataDir);

        Thread traffic = null;
        if (input == null) {
            traffic = demoTraffic(conf, kafka, topic, stop);
            System.out.println("sending demo traffic; Ctrl-C stops everything");
        }
        long tick = conf.get(UpsertOptions.TICK).toMillis();
        long target = input == null ? Long.MAX_VALUE : Math.floorDiv(input.maxTs(), tick) * tick;
        long interval = conf.get(JobOptions.PROGRESS_INTERVAL).toNanos();
        long nextReport = System.nanoTime() + interval;
        boolean done = false;
        while (!stop.get()) {
            boolean ended = ended(job);
            done = flags.exitWhenDone() && store.frontier().read().p() > target;
            if (done) {
                System.out.println(progress(store));
                System.out.println("done: the persist frontier passed every input time");
                break;
            }
            if (ended) {
                throw new IllegalStateException("the job ended unexpectedly; see the log above for its failure");
            }
            if (System.nanoTime() >= nextReport) {
                nextReport += interval;
                String line = progress(store);
                if (!stop.get()) { // on Ctrl-C the emulator (same process group) may already be gone
                    System.out.println(line);
                }
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        if (traffic != null) {
            traffic.join();
        }
        if (flags.exitWhenDone() && !done) {
            System.out.println("stopping before the input was done: no dump");
            return 130;
        }
        if (flags.dumpTo() != null) {
            int keys = dump(store, flags.dumpTo());
            System.out.printf("wrote %,d keys to %s%n", keys, flags.dumpTo());
        }
        if (stop.get()) {
            System.out.println("stopping");
            return 130;
        }
        return 0;
    }

    /** Starts the MiniCluster and the job; a busy web UI port is an option error. */
    private static JobClient start(StreamExecutionEnvironment env, Configuration conf) throws Exception {
        try {
            return env.executeAsync("upsert-feedback (local)");
        } catch (Exception e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof BindException) {
                    throw new IllegalArgumentException("Option 'rest.port': port " + conf.get(RestOptions.PORT)
                            + " is in use (another `./upsert local`?). Fix: stop it, or pass -Drest.port=8082", e);
                }
            }
            throw e;
        }
    }

    private static InputFile readInput(Path file) {
        try {
            return InputFile.read(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--input: " + e.getMessage() + ". Fix: give a JSON-lines file as described in the README", e);
        }
    }

    private static Thread demoTraffic(Configuration conf, EmbeddedKafka kafka, String topic, AtomicBoolean stop) {
        LoadGenerator generator = new LoadGenerator(conf);
        Thread t = new Thread(() -> {
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                generator.run(producer, topic, stop::get, Long.MAX_VALUE, s -> { });
            } catch (RuntimeException e) {
                if (!stop.get()) {
                    System.err.println("demo traffic stopped: " + e);
                }
            }
        }, "demo-traffic");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** One line: commands in, updates out, dead letters, I ("-" once the source ended), P, store size. */
    private static String progress(StoreHandle store) throws IOException {
        OptionalLong watermark = ProgressMetrics.min(COMMANDS, "currentOutputWatermark");
        String input = watermark.isPresent() ? time(saturatedIncrement(watermark.getAsLong())) : "-";
        long deadLetters = ProgressMetrics.sum(SOURCE, "deadLetters");
        long persist = store.frontier().read().p();
        long keys = 0;
        long longTerm = 0;
        try (CloseableIterator<StoredRow> rows = store.store().highVolume().scan(null)) {
            while (rows.hasNext()) {
                RowState.Kind kind = rows.next().state().kind();
                keys += kind == RowState.Kind.INLINE || kind == RowState.Kind.TOMBSTONE ? 1 : 0;
                longTerm += kind == RowState.Kind.TOMBSTONE ? 1 : 0;
            }
        } catch (Exception e) {
            throw new IOException("cannot scan the store", e);
        }
        return String.format("[%s] commands in %,d | updates out %,d | dead letters %,d | I %s | P %s | store %,d keys (%,d in long-term tier)",
                LocalTime.now().format(CLOCK), ProgressMetrics.sum(SOURCE, "numRecordsOut") - deadLetters,
                updatesOut(), deadLetters, input, time(persist), keys, longTerm);
    }

    /** Data updates the operator emitted: an insert, a retraction and an insert per changed value, a retraction per delete. */
    private static long updatesOut() {
        String op = UpsertFeedback.OPERATOR_NAME;
        return ProgressMetrics.sum(op, "inserts") + 2 * ProgressMetrics.sum(op, "updates") + ProgressMetrics.sum(op, "deletes");
    }

    private static long saturatedIncrement(long watermark) {
        return watermark == Long.MIN_VALUE || watermark == Long.MAX_VALUE ? watermark : watermark + 1;
    }

    private static String time(long t) {
        if (t == Long.MIN_VALUE) {
            return "-inf";
        }
        if (t == Long.MAX_VALUE) {
            return "+inf";
        }
        return LocalTime.ofInstant(Instant.ofEpochMilli(t), ZoneId.systemDefault()).format(CLOCK);
    }

    /** Writes the store's live contents as JSON lines sorted by key; returns the number of keys. */
    static int dump(StoreHandle store, Path out) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, ObjectNode> lines = new TreeMap<>();
        try (CloseableIterator<StoredEntry> entries = store.store().scan(null)) {
            while (entries.hasNext()) {
                StoredEntry e = entries.next();
                ObjectNode line = json.createObjectNode();
                String key = new String(e.key(), StandardCharsets.UTF_8);
                line.put("key", key);
                line.put("value", new String(e.value().bytes(), StandardCharsets.UTF_8));
                line.put("time", e.meta().getTime());
                lines.put(key, line);
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            for (ObjectNode line : lines.values()) {
                w.write(json.writeValueAsString(line));
                w.newLine();
            }
        }
        return lines.size();
    }

    /** Cancels the job unless it has ended, and waits (30 s at most) until it has. */
    private static void cancel(JobClient job) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        boolean cancelled = false;
        while (!ended(job) && System.nanoTime() < deadline) {
            if (!cancelled) {
                job.cancel().get(30, TimeUnit.SECONDS);
                cancelled = true;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    /** Whether the job reached a terminal state; a MiniCluster that already shut down means it has. */
    private static boolean ended(JobClient job) throws Exception {
        try {
            return job.getJobStatus().get().isGloballyTerminalState();
        } catch (IllegalStateException e) {
            return true;
        }
    }

    /**
     * Closes in reverse order of opening. {@code quietly}: after Ctrl-C or a failure, when the
     * MiniCluster and the emulator may already be stopped by their own shutdown hooks, errors are
     * not reported.
     */
    private static void closeAll(Deque<AutoCloseable> resources, boolean quietly) throws Exception {
        Exception first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                if (quietly) {
                    continue;
                }
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
