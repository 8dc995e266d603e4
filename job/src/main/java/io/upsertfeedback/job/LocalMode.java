package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.kafka.KafkaCommandSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.TimeUtils;
import org.apache.flink.util.concurrent.ExecutorThreadFactory;
import org.apache.kafka.clients.producer.KafkaProducer;
import sun.misc.Signal;

import java.io.IOException;
import java.io.Writer;
import java.net.BindException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code local}: the whole product in one process, nothing to install. Starts the
 * {@link LocalCluster} (a real KRaft broker, the bundled Bigtable emulator, a local directory as
 * the long-term tier; fresh or resumed), and runs the pipeline on a MiniCluster (RocksDB state backend, checkpoints under {@code local.data-dir}, web UI on
 * {@code rest.port}). Then either feeds demo traffic ({@link LoadGenerator}) until Ctrl-C, or
 * produces an input file and, with {@code --exit-when-done}, reads it as a bounded input and waits
 * until it is done, dumps the store ({@link StoreDump}) and exits 0: the black-box contract
 * described in the README. Every few seconds it prints a {@link ProgressLine}.
 *
 * <p>Done (SPEC section 3, invariant 11) means all of: the Kafka source reached the end offsets of
 * every partition (the commands' output watermark is {@code +inf} on every subtask); the records it
 * read, commands plus dead letters, counted exactly once across failovers (see {@link
 * KafkaCommandSource}), are as many as the records produced; the job is running, not failing or
 * restarting; and the store's persist frontier {@code P} passed every input time. When the source
 * ended and {@code P} passed but records are missing, the run exits 1 saying how many; it never
 * reports success with data missing.
 */
final class LocalMode {
    /** The flags of {@code local}. */
    record Flags(Path input, boolean exitWhenDone, Path dumpTo, Path changelogTo, Path deadLettersTo, boolean resume) {
        static Flags from(Map<String, String> flags) {
            Flags f = new Flags(path(flags.get("--input")), flags.containsKey("--exit-when-done"),
                    path(flags.get("--dump-to")), path(flags.get("--changelog-to")), path(flags.get("--dead-letters-to")),
                    flags.containsKey("--resume"));
            if (f.exitWhenDone && f.input == null) {
                throw new IllegalArgumentException("--exit-when-done needs --input FILE (demo traffic never ends)");
            }
            if (f.dumpTo != null && !f.exitWhenDone) {
                throw new IllegalArgumentException("--dump-to needs --exit-when-done (the dump is taken when the input is done)");
            }
            if (f.deadLettersTo != null && !f.exitWhenDone) {
                throw new IllegalArgumentException("--dead-letters-to needs --exit-when-done (they are written when the input is done)");
            }
            checkOutput("--dump-to", f.dumpTo);
            checkOutput("--changelog-to", f.changelogTo);
            checkOutput("--dead-letters-to", f.deadLettersTo);
            Map<String, Path> files = new LinkedHashMap<>();
            files.put("--input", f.input);
            files.put("--dump-to", f.dumpTo);
            files.put("--changelog-to", f.changelogTo);
            files.put("--dead-letters-to", f.deadLettersTo);
            checkDistinct(files);
            return f;
        }

        /** No two of the input and output flags name one file: an output written over another, or over the input, would lose it. */
        private static void checkDistinct(Map<String, Path> files) {
            List<Map.Entry<String, Path>> given = files.entrySet().stream().filter(e -> e.getValue() != null).toList();
            for (int i = 0; i < given.size(); i++) {
                for (int j = i + 1; j < given.size(); j++) {
                    Path a = given.get(i).getValue();
                    Path b = given.get(j).getValue();
                    if (sameFile(a, b)) {
                        throw new IllegalArgumentException(given.get(i).getKey() + " and " + given.get(j).getKey() + " name the same file "
                                + b.toAbsolutePath().normalize() + ": " + (given.get(i).getKey().equals("--input") ? "the run would write over its input" : "one would write over the other")
                                + ". Fix: give each its own file");
                    }
                }
            }
        }

        private static boolean sameFile(Path a, Path b) {
            if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
                return true;
            }
            try { // links: two names of one file
                return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
            } catch (IOException e) {
                return false;
            }
        }

        /** An output file is written at the end of the run: a path that cannot take it fails at the start instead. */
        private static void checkOutput(String flag, Path file) {
            if (file == null) {
                return;
            }
            if (Files.isDirectory(file)) {
                throw new IllegalArgumentException(flag + ": " + file + " is a directory. Fix: give a file name");
            }
            Path dir = file.toAbsolutePath().getParent();
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(flag + ": " + file + ": its directory " + dir + " does not exist. Fix: create it, "
                        + "or give a file in a writable directory");
            }
            try { // permissions do not tell (root, /proc, read-only mounts): a file is created and deleted
                Files.delete(Files.createTempFile(dir, ".upsert-probe-", ".tmp"));
            } catch (IOException e) {
                throw new IllegalArgumentException(flag + ": " + file + ": its directory " + dir + " does not take new files ("
                        + e.getClass().getSimpleName() + "). Fix: give a file in a writable directory", e);
            }
        }

        private static Path path(String p) {
            return p == null ? null : Path.of(p);
        }
    }

    /**
     * System property: the process id of the launcher ({@code ./upsert} passes its own). When that
     * process ends first (the script killed with {@code kill -9}, which it cannot pass on), this run
     * stops in order as on SIGTERM instead of running on unseen.
     */
    static final String LAUNCHER_PID = "upsert.launcher-pid";

    /** The least time a read of the store by the progress loop is waited for (at least one progress interval). */
    private static final Duration STORE_READ_DEADLINE = Duration.ofSeconds(15);
    /** In the data directory: written once the input file is in the topic. */
    private static final String INPUT_FILE = "input-produced";
    /** In {@link #INPUT_FILE}, before the produced file's SHA-256 (hex). */
    private static final String SHA256 = " sha256 ";

    private LocalMode() {
    }

    static int run(Configuration conf, Flags flags) throws Exception {
        int partitions = conf.get(JobOptions.LOCAL_PARTITIONS);
        if (partitions < 1) {
            throw new IllegalArgumentException("Option '" + JobOptions.LOCAL_PARTITIONS.key() + "' is " + partitions
                    + ". Fix: set at least 1 (the partitions of the upsert topic the embedded broker creates)");
        }
        InputFile input = flags.input() == null ? null : readInput(flags.input());
        // the demo traffic's options are checked here, before anything starts, even when --input
        // replaces the demo (a bad option fails at start, used or not)
        LoadGenerator generator = new LoadGenerator(conf);
        LoadGenerator demo = input == null ? generator : null;
        if (input != null) {
            input.checkPartitions(partitions);
        }
        Pipeline.checkOptions(conf);
        Path dataDir = Path.of(conf.get(JobOptions.LOCAL_DATA_DIR)).toAbsolutePath();
        if (flags.resume() && input != null) {
            checkSameInput(dataDir.resolve(INPUT_FILE), input);
        }
        Deque<AutoCloseable> resources = new ArrayDeque<>();
        resources.push(LocalCluster.lock(dataDir, flags.resume())); // released last
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
            int code = runWith(conf, flags, input, demo, dataDir, resources, stop);
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
     * A second signal exits at once. The launcher's end ({@link #LAUNCHER_PID}) counts as a signal.
     */
    private static void stopOnSignals(AtomicBoolean stop) {
        for (String name : List.of("INT", "TERM")) {
            Signal.handle(new Signal(name), signal -> {
                if (!stop.compareAndSet(false, true)) {
                    System.exit(130);
                }
            });
        }
        String launcher = System.getProperty(LAUNCHER_PID);
        if (launcher != null) {
            ProcessHandle.of(Long.parseLong(launcher)).map(ProcessHandle::onExit).ifPresentOrElse(
                    exit -> exit.thenRun(() -> stop.set(true)), () -> stop.set(true));
        }
    }

    private static int runWith(Configuration conf, Flags flags, InputFile input, LoadGenerator demo, Path dataDir,
                               Deque<AutoCloseable> resources, AtomicBoolean stop) throws Exception {
        checkWebUiPort(conf); // after the data directory's lock: a second run on it is told which process holds it
        LocalCluster cluster = LocalCluster.start(conf, dataDir, flags.resume());
        resources.push(cluster);
        EmbeddedKafka kafka = cluster.kafka;
        EmbeddedBigtable bigtable = cluster.bigtable;
        String topic = conf.get(KafkaIngestOptions.TOPIC);
        cluster.configure(conf);
        ProgressMetrics.reporterConfig().forEach(conf::setString);
        StoreHandle store = Stores.open(conf, "local-client");
        resources.push(store);
        cluster.reportEarlierLease(store.frontier(), conf.get(TieredStoreSink.WRITER_LEASE));

        Path produced = dataDir.resolve(INPUT_FILE);
        if (input != null && Files.exists(produced)) {
            System.out.printf("the input is in topic %s already (produced by the earlier run: %s)%n", topic, Files.readString(produced).trim());
        } else if (input != null) {
            if (kafka.endOffsets(topic).values().stream().mapToLong(Long::longValue).sum() > 0) {
                throw new IllegalArgumentException("--resume: the earlier run stopped while producing its input, so the topic holds "
                        + "part of it. Fix: start without --resume");
            }
            try (KafkaProducer<byte[], byte[]> producer = kafka.newProducer()) {
                input.produce(producer, topic);
            }
            Files.writeString(produced, String.format("%d records from %s%s%s%n", input.lines().size(), flags.input(), SHA256, input.sha256()));
            System.out.printf("produced %,d commands from %s into topic %s%n", input.lines().size(), flags.input(), topic);
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
        Pipeline.Built built = Pipeline.build(env, conf, flags.exitWhenDone());
        if (flags.changelogTo() != null) {
            built.updates().sinkTo(ChangelogFileSink.create(flags.changelogTo())).name("changelog").uid("changelog-sink")
                    .setParallelism(built.updates().getParallelism());
            resources.push(() -> ChangelogFileSink.assemble(flags.changelogTo()));
        }
        long expected = input == null ? 0 : input.lines().size();
        if (input != null && !built.resumedFrom().isEmpty()) {
            expected = 0;
            for (Map.Entry<Integer, Long> end : kafka.endOffsets(topic).entrySet()) {
                expected += end.getValue() - built.resumedFrom().getOrDefault(end.getKey(), 0L);
            }
            System.out.printf("rehydrating from the store: the source resumes at %s (partitions not named: from their earliest offset), "
                    + "%,d records to read%n", new TreeMap<>(built.resumedFrom()), expected);
        } else if (cluster.earlierStore) {
            System.out.printf("rehydrating from the store: it records no source positions yet (the earlier run stopped before "
                    + "every subtask had acknowledged one), so the source reads every partition from its earliest offset, %,d records to read%n",
                    expected);
        }
        JobClient job = start(env, conf);
        resources.push(() -> cancel(job));
        System.out.printf("upsert-feedback is running (process %d): Flink web UI http://localhost:%d | Kafka %s, topic %s | Bigtable emulator %s "
                        + "| data in %s%n", ProcessHandle.current().pid(), conf.get(RestOptions.PORT), kafka.bootstrapServers(), topic, bigtable.endpoint(), dataDir);

        Thread traffic = null;
        if (input == null) {
            traffic = demoTraffic(demo, kafka, topic, stop);
            System.out.println("sending demo traffic; Ctrl-C stops everything");
        }
        long tick = conf.get(UpsertOptions.TICK).toMillis();
        long target = input == null ? Long.MAX_VALUE : Math.floorDiv(input.maxTs(), tick) * tick;
        long interval = conf.get(JobOptions.PROGRESS_INTERVAL).toNanos();
        long nextReport = System.nanoTime() + interval;
        boolean done = false;
        // a store read that takes longer is reported, not waited for: the loop goes on seeing signals and a dead emulator
        long storeDeadline = Math.max(interval, STORE_READ_DEADLINE.toNanos());
        ExecutorService storeReads = Executors.newSingleThreadExecutor(new ExecutorThreadFactory("upsert-local-store-reads"));
        resources.push(storeReads::shutdownNow);
        while (!stop.get()) {
            if (!bigtable.isAlive()) {
                throw new IllegalStateException("the Bigtable emulator (process " + bigtable.pid() + ") ended while the job ran: the store "
                        + "it kept in memory is lost. Fix: run again with --resume, which rebuilds the store from the topic");
            }
            JobStatus status = status(job);
            boolean ended = status == null || status.isGloballyTerminalState();
            if (ended && failed(job)) {
                throw new IllegalStateException("the job failed; see the log above for its failure");
            }
            if (flags.exitWhenDone() && (ended || status == JobStatus.RUNNING) && sourceEnded()
                    && within(storeReads, () -> store.frontier().read().p(), storeDeadline).orElse(Long.MIN_VALUE) > target) {
                System.out.println(ProgressLine.of(store));
                long commands = ProgressMetrics.latestSum(KafkaCommandSource.COMMANDS_NAME, KafkaCommandSource.COMMANDS_READ);
                long deadLetters = ProgressMetrics.latestSum(KafkaCommandSource.COMMANDS_NAME, KafkaCommandSource.DEAD_LETTERS_READ);
                if (commands + deadLetters != expected) {
                    System.out.printf("not done: the source read %,d commands + %,d dead letters = %,d records of the %,d produced; "
                                    + "%,d records were not read (deleted or compacted away under the source, or skipped, "
                                    + "e.g. by kafka.starting-offsets)%n",
                            commands, deadLetters, commands + deadLetters, expected, expected - commands - deadLetters);
                    return 1;
                }
                System.out.printf("done: the source read all %,d records (%,d commands, %,d dead letters) and the persist "
                        + "frontier passed every input time%n", expected, commands, deadLetters);
                done = true;
                break;
            }
            if (ended) {
                throw new IllegalStateException("the job ended before the input was done; see the log above");
            }
            if (System.nanoTime() >= nextReport) {
                nextReport += interval;
                String line = within(storeReads, () -> ProgressLine.of(store), storeDeadline)
                        .orElse("the store does not answer (" + TimeUtils.formatWithHighestUnit(Duration.ofNanos(storeDeadline)) + " waited)");
                if (!stop.get()) { // on Ctrl-C the emulator (same process group) may already be gone
                    System.out.println(status == JobStatus.RUNNING ? line : line + " | job " + status);
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
        if (flags.deadLettersTo() != null) {
            long written = writeWhole(flags.deadLettersTo(), w -> Inspect.deadLetters(conf, w));
            System.out.printf("wrote %,d dead letters to %s%n", written, flags.deadLettersTo());
        }
        if (flags.dumpTo() != null) {
            long keys = writeWhole(flags.dumpTo(), w -> StoreDump.write(store, topic, false, w));
            System.out.printf("wrote %,d keys to %s%n", keys, flags.dumpTo());
        }
        if (stop.get() && !done) { // a signal after "done:" changes nothing: the run is complete, its results written
            System.out.println("stopping");
            return 130;
        }
        return 0;
    }

    /**
     * {@code read}'s result, or empty when it takes longer than {@code nanos} (it goes on in the
     * background): the progress loop never waits on a store that does not answer, and still sees
     * signals and a dead emulator.
     */
    private static <T> Optional<T> within(ExecutorService reads, Callable<T> read, long nanos) throws Exception {
        Future<T> result = reads.submit(read);
        try {
            return Optional.of(result.get(nanos, TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            result.cancel(true);
            return Optional.empty();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /**
     * Fails when the web UI's port ({@code rest.port}) is taken, before the broker starts (otherwise the
     * run would find out after starting it and producing its input). A port Flink picks
     * ({@code 0}, or {@code rest.bind-port} set) is not probed. {@link #start} still maps a port taken
     * in between to the same error.
     */
    private static void checkWebUiPort(Configuration conf) {
        int port = conf.get(RestOptions.PORT);
        if (port == 0 || conf.containsKey(RestOptions.BIND_PORT.key())) {
            return;
        }
        try (ServerSocket probe = new ServerSocket(port)) {
            probe.setReuseAddress(true);
        } catch (IOException e) {
            throw webUiPortInUse(conf, e);
        }
    }

    private static IllegalArgumentException webUiPortInUse(Configuration conf, Exception cause) {
        return new IllegalArgumentException("Option 'rest.port': port " + conf.get(RestOptions.PORT)
                + " is in use (another `./upsert local`?). Fix: stop it, or pass -Drest.port=8082", cause);
    }

    /** Starts the MiniCluster and the job; a busy web UI port is an option error. */
    private static JobClient start(StreamExecutionEnvironment env, Configuration conf) throws Exception {
        try {
            return env.executeAsync("upsert-feedback (local)");
        } catch (Exception e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof BindException) {
                    throw webUiPortInUse(conf, e);
                }
            }
            throw e;
        }
    }

    /** Writes the lines of a result file; returns how many. */
    private interface Lines {
        long writeTo(Writer out) throws Exception;
    }

    /**
     * Writes {@code file} whole or not at all: into a sibling {@code .partial} file, moved over
     * {@code file} once complete, so a run killed while writing never leaves a truncated result.
     */
    private static long writeWhole(Path file, Lines lines) throws Exception {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        long count;
        try (Writer w = Files.newBufferedWriter(partial, StandardCharsets.UTF_8)) {
            count = lines.writeTo(w);
        }
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return count;
    }

    /**
     * {@code --resume --input FILE}: the topic holds the input the earlier run produced, so FILE must be
     * that input (same content); another file would be checked against records it never produced.
     */
    private static void checkSameInput(Path produced, InputFile input) throws IOException {
        if (!Files.exists(produced)) {
            return;
        }
        String record = Files.readString(produced).trim();
        int at = record.lastIndexOf(SHA256);
        if (at >= 0 && !record.substring(at + SHA256.length()).equals(input.sha256())) {
            throw new IllegalArgumentException("--resume: the earlier run produced its input from another file (" + record.substring(0, at)
                    + "); --input " + input.file() + " differs from it. Fix: resume with that same --input, or start without "
                    + "--resume to read " + input.file() + " on a fresh topic and store");
        }
    }

    private static InputFile readInput(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--input: " + file + " is not a file (" + (Files.exists(file) ? "a directory?" : "it does not exist")
                    + "). Fix: give the path of a JSON-lines file as described in the README");
        }
        try {
            return InputFile.read(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--input: " + e.getMessage() + ". Fix: correct that line (the format is in the README)", e);
        }
    }

    private static Thread demoTraffic(LoadGenerator generator, EmbeddedKafka kafka, String topic, AtomicBoolean stop) {
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

    /** Whether the Kafka source reached its end offsets: the commands' output watermark is +inf on every subtask. */
    private static boolean sourceEnded() {
        OptionalLong watermark = ProgressMetrics.latestMin(KafkaCommandSource.COMMANDS_NAME, "currentOutputWatermark");
        return watermark.isPresent() && watermark.getAsLong() == Long.MAX_VALUE;
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
        JobStatus status = status(job);
        return status == null || status.isGloballyTerminalState();
    }

    /** Whether the ended job failed (its result is an exception) rather than finished. */
    private static boolean failed(JobClient job) throws Exception {
        return job.getJobExecutionResult().handle((result, error) -> error != null).get(30, TimeUnit.SECONDS);
    }

    /** The job's status; {@code null} when the MiniCluster already shut down (after the job ended). */
    private static JobStatus status(JobClient job) throws Exception {
        try {
            return job.getJobStatus().get();
        } catch (IllegalStateException e) {
            return null;
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
}
