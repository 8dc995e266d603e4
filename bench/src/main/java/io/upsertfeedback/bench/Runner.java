package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.CollectionDigest;
import io.upsertfeedback.bench.kafka.Loader;
import io.upsertfeedback.bench.kafka.Workload;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The whole benchmark, as {@code bench/run.sh} starts it: a real Kafka broker in a child JVM, the
 * topic loaded once (plus the same commands with their times spread over a day and in one tick,
 * for the backlog runs), each contender in its own JVM one after another (the disk synced before each, the order reversed on
 * every other repetition), the latency run and the memory sweep of ours, the sink benchmark and the
 * JMH microbenchmarks; then every contender's counts, or the store it wrote, are checked against
 * the workload's expected updates, live keys and final collection, and the tables and the chart go
 * to the results directory.
 *
 * <p>Options ({@code --name=value}): the {@link Workload} options, {@code --reps=3},
 * {@code --parallelism=2}, {@code --heap=1g}, {@code --contenders=ours,sql,...},
 * {@code --sweep=100000,1000000,5000000}, {@code --sweep-heap=256m}, {@code --latency-rate=10000},
 * {@code --latency-commands=150000}, {@code --jmh=true}, {@code --sink=true},
 * {@code --results=bench/results}, {@code --step-timeout-minutes=8} (for each latency, sweep and sink
 * step: one that fails or runs out of time is reported as such and the run goes on),
 * {@code --end-to-end-minutes=30} (how long a store contender may take; ours then reports how far
 * its persist frontier got), {@code --backlog-minutes} (the same for the backlog runs; default: the
 * former), and
 * {@code --flink.<key>=<value>} for every Flink contender. Classpaths come from the system properties
 * {@code bench.classpath} and {@code kstreams.classpath}.
 */
public final class Runner {
    /** Operator-only contenders: a discarding sink counts their updates. */
    static final List<String> OPERATOR_CONTENDERS =
            List.of("ours", "ours-tick-1s", "sql", "kstreams-changelog-off", "kstreams-changelog-on", "ceiling");
    /** Contenders that write a store on the Bigtable emulator, checked against the final collection (see {@link EndToEnd}). */
    static final List<String> STORE_CONTENDERS =
            List.of("ours-end-to-end", "peer", "emulator-ceiling", "backlog-24h", "backlog-one-tick");
    static final List<String> ALL_CONTENDERS = java.util.stream.Stream.concat(OPERATOR_CONTENDERS.stream(), STORE_CONTENDERS.stream()).toList();
    /** The backlog runs: the same commands with their times spread over this span (one day), and all at one time. */
    static final long BACKLOG_SPAN_MILLIS = TimeUnit.DAYS.toMillis(1);
    /** {@code ours-tick-1s}: ours with the default {@code upsert.tick} of 1 s (one net change per key and second). */
    static final long DEFAULT_TICK_MILLIS = 1000;
    /** The memory sweep's full collection interval, for the retained (live) heap. */
    static final long RETAINED_HEAP_INTERVAL_MS = 1000;

    public static void main(String[] args) throws Exception {
        Map<String, String> options = Workload.parseArgs(args);
        Workload workload = Workload.defaults("commands").with(options);
        Path results = Path.of(options.getOrDefault("results", "bench/results"));
        Path logs = results.resolve("tmp");
        Files.createDirectories(logs);
        Settings settings = new Settings(options, System.getProperty("bench.classpath"), System.getProperty("kstreams.classpath"), logs);
        Results out = new Results(Instant.now(), Machine.describe(), workload, settings);
        out.command = "./bench/run.sh " + String.join(" ", args);

        List<String> broker = ChildProcess.java(settings.kstreamsClasspath, "1g", List.of(),
                "io.upsertfeedback.bench.kafka.BrokerMain", List.of());
        try (ChildProcess.Service kafka = ChildProcess.startService(broker, logs.resolve("broker.err"), "BOOTSTRAP ")) {
            String bootstrap = kafka.announced();
            for (Workload topic : settings.topics(workload)) {
                long loadStart = System.nanoTime();
                out.loaded.put(topic.topic(), Loader.load(bootstrap, topic));
                Loader.createTopic(bootstrap, topic.topic() + "-dead-letters", 1);
                log("loaded %d commands into %s in %d ms", topic.commands(), topic.topic(), millisSince(loadStart));
            }
            out.expected = out.loaded.get(workload.topic()).expected();
            log("expected %s", out.expected);

            for (int rep = 0; rep < settings.reps; rep++) {
                List<String> order = new ArrayList<>(settings.contenders);
                if (rep % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (String contender : order) {
                    log("settled the disk before %s rep %d in %d ms", contender, rep, Machine.settle());
                    Map<String, String> result = settings.runContender(contender, bootstrap, workload, out, rep);
                    out.add(contender, result);
                    String check = out.check(contender, result);
                    log("%s rep %d: %s; check: %s", contender, rep, result, check == null ? "ok" : "FAILED: " + check);
                }
            }

            if (settings.contenders.contains("ours") && settings.latencyRate > 0) {
                Workload live = workload.with(Map.of("topic", "latency", "commands", String.valueOf(settings.latencyCommands)));
                out.attempt("latency run", () -> {
                    out.latency = settings.runFlink("ours", "ours-latency", bootstrap, live, settings.heap,
                            List.of("--latency-rate=" + settings.latencyRate), settings.stepMinutes);
                    log("latency: %s", out.latency);
                });
            }

            for (int keys : settings.sweep) {
                out.attempt("sweep of " + keys + " keys", () -> {
                    Workload snapshot = Workload.snapshot("sweep-" + keys, keys, workload.valueSize(), workload.partitions());
                    Workload.Expected expected = Loader.load(bootstrap, snapshot).expected();
                    Loader.createTopic(bootstrap, snapshot.topic() + "-dead-letters", 1);
                    Map<String, String> result = settings.runFlink("ours", "sweep-" + keys, bootstrap, snapshot, settings.sweepHeap,
                            List.of("--retained-heap-every-ms=" + RETAINED_HEAP_INTERVAL_MS), settings.stepMinutes);
                    out.sweep.add(new Results.SweepPoint(keys, expected, result));
                    log("sweep %d keys: %s", keys, result);
                });
            }
        }

        if (settings.sink) {
            out.attempt("sink benchmark", () -> {
                out.sink = settings.runSinkBenchmark();
                log("sink: %s", out.sink);
            });
        }
        if (settings.jmh) {
            out.attempt("JMH", () -> {
                out.jmh = Jmh.run(settings.benchClasspath, logs);
                log("jmh: %s", out.jmh);
            });
        }
        out.finished = Instant.now();
        out.loadAfter = Machine.load();
        String table = out.markdown();
        Files.writeString(results.resolve("results.md"), table, StandardCharsets.UTF_8);
        Files.writeString(results.resolve("runs.csv"), out.csv(), StandardCharsets.UTF_8);
        Chart.write(out, results.resolve("chart.png"));
        System.out.println(table);
        if (!out.allChecksPass()) {
            System.err.println("A contender's counts differ from the expected ones, or a step did not complete: see the results.");
            System.exit(1);
        }
    }

    static void log(String format, Object... args) {
        System.err.printf("[bench] " + format + "%n", args);
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    /** The run's settings and how to start each kind of child. */
    static final class Settings {
        final int reps;
        final int parallelism;
        final String heap;
        final String sweepHeap;
        final List<String> contenders;
        final int[] sweep;
        final int latencyRate;
        final long latencyCommands;
        final boolean jmh;
        final boolean sink;
        final List<String> flinkOptions;
        final long stepMinutes;
        final long endToEndMinutes;
        final long backlogMinutes;
        final String benchClasspath;
        final String kstreamsClasspath;
        final Path logs;

        Settings(Map<String, String> o, String benchClasspath, String kstreamsClasspath, Path logs) {
            this.reps = Integer.parseInt(o.getOrDefault("reps", "3"));
            this.parallelism = Integer.parseInt(o.getOrDefault("parallelism", "2"));
            this.heap = o.getOrDefault("heap", "1g");
            this.sweepHeap = o.getOrDefault("sweep-heap", "256m");
            this.contenders = List.of(o.getOrDefault("contenders", String.join(",", ALL_CONTENDERS)).split(","));
            String sweepKeys = o.getOrDefault("sweep", "100000,1000000,5000000");
            this.sweep = sweepKeys.isBlank() ? new int[0] : Arrays.stream(sweepKeys.split(",")).mapToInt(Integer::parseInt).toArray();
            this.latencyRate = Integer.parseInt(o.getOrDefault("latency-rate", "10000"));
            this.latencyCommands = Long.parseLong(o.getOrDefault("latency-commands", "150000"));
            this.jmh = Boolean.parseBoolean(o.getOrDefault("jmh", "true"));
            this.sink = Boolean.parseBoolean(o.getOrDefault("sink", "true"));
            this.stepMinutes = Long.parseLong(o.getOrDefault("step-timeout-minutes", "8"));
            this.endToEndMinutes = Long.parseLong(o.getOrDefault("end-to-end-minutes", "30"));
            this.backlogMinutes = Long.parseLong(o.getOrDefault("backlog-minutes", String.valueOf(endToEndMinutes)));
            this.flinkOptions = o.entrySet().stream().filter(e -> e.getKey().startsWith(FlinkContender.FLINK_OPTION_PREFIX))
                    .map(e -> "--" + e.getKey() + "=" + e.getValue()).toList();
            this.benchClasspath = require(benchClasspath, "bench.classpath");
            this.kstreamsClasspath = require(kstreamsClasspath, "kstreams.classpath");
            this.logs = logs;
            for (String c : contenders) {
                if (!ALL_CONTENDERS.contains(c)) {
                    throw new IllegalArgumentException("unknown contender " + c + "; known: " + ALL_CONTENDERS);
                }
            }
        }

        private static String require(String value, String property) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException("system property " + property + " is not set; start the runner with bench/run.sh");
            }
            return value;
        }

        /** The topics to load: the workload's, and for the backlog runs its commands spread over a day and in one tick. */
        List<Workload> topics(Workload workload) {
            List<Workload> topics = new ArrayList<>(List.of(workload));
            for (String backlog : List.of("backlog-24h", "backlog-one-tick")) {
                if (contenders.contains(backlog)) {
                    topics.add(topicOf(backlog, workload));
                }
            }
            return topics;
        }

        /** The workload a contender reads: the backlog runs read the same commands at other times. */
        static Workload topicOf(String contender, Workload workload) {
            return switch (contender) {
                case "backlog-24h" -> workload.spreadOver(workload.topic() + "-24h", BACKLOG_SPAN_MILLIS);
                case "backlog-one-tick" -> workload.spreadOver(workload.topic() + "-one-tick", 0);
                default -> workload;
            };
        }

        Map<String, String> runContender(String contender, String bootstrap, Workload workload, Results out, int rep)
                throws Exception {
            if (STORE_CONTENDERS.contains(contender)) {
                Workload topic = topicOf(contender, workload);
                long minutes = contender.startsWith("backlog-") ? backlogMinutes : endToEndMinutes;
                List<String> args = new ArrayList<>(List.of(
                        "--contender=" + (contender.startsWith("backlog-") ? "ours-end-to-end" : contender),
                        "--bootstrap=" + bootstrap, "--parallelism=" + parallelism,
                        "--first-timestamp=" + out.loaded.get(topic.topic()).firstTimestamp(),
                        "--time-limit-seconds=" + TimeUnit.MINUTES.toSeconds(minutes)));
                args.addAll(List.of(topic.toArgs()));
                args.addAll(flinkOptions);
                return ChildProcess.run(contender + "-" + rep, ChildProcess.java(benchClasspath, heap, List.of(),
                        "io.upsertfeedback.bench.EndToEnd", args), logs, minutes + 5);
            }
            if (contender.startsWith("kstreams-")) {
                List<String> args = List.of("--bootstrap=" + bootstrap, "--topic=" + workload.topic(),
                        "--records=" + workload.commands(), "--parallelism=" + parallelism,
                        "--changelog=" + contender.equals("kstreams-changelog-on"));
                return ChildProcess.run(contender + "-" + rep, ChildProcess.java(kstreamsClasspath, heap, List.of(),
                        "io.upsertfeedback.bench.kafka.KafkaStreamsContender", args), logs, 20);
            }
            boolean defaultTick = contender.equals("ours-tick-1s");
            return runFlink(defaultTick ? "ours" : contender, contender + "-" + rep, bootstrap, workload, heap,
                    List.of("--tick-ms=" + (defaultTick ? DEFAULT_TICK_MILLIS : 1)), 20);
        }

        Map<String, String> runFlink(String contender, String name, String bootstrap, Workload workload, String heapSize,
                                     List<String> extraArgs, long timeoutMinutes) throws Exception {
            List<String> args = new ArrayList<>(List.of("--contender=" + contender, "--bootstrap=" + bootstrap,
                    "--parallelism=" + parallelism));
            args.addAll(List.of(workload.toArgs()));
            args.addAll(flinkOptions);
            args.addAll(extraArgs);
            return ChildProcess.run(name, ChildProcess.java(benchClasspath, heapSize, List.of(),
                    "io.upsertfeedback.bench.FlinkContender", args), logs, timeoutMinutes);
        }

        Map<String, String> runSinkBenchmark() throws Exception {
            return ChildProcess.run("sink", ChildProcess.java(benchClasspath, heap, List.of(),
                    "io.upsertfeedback.bench.SinkBenchmark", List.of()), logs, stepMinutes);
        }
    }

    /** Every measured figure of a run, and how to print it. */
    static final class Results {
        record SweepPoint(int keys, Workload.Expected expected, Map<String, String> result) {
        }

        final Instant started;
        final String machine;
        final String commit;
        /** The command line of the run. */
        String command = "";
        final String loadBefore;
        final Workload workload;
        final int parallelism;
        final String heap;
        final String sweepHeap;
        final Map<String, List<Map<String, String>>> runs = new LinkedHashMap<>();
        Workload.Expected expected;
        private Workload.Expected expectedAtDefaultTick;
        /** Every loaded topic: its first record time and expected counts. */
        final Map<String, Loader.Loaded> loaded = new LinkedHashMap<>();
        private final Map<String, CollectionDigest> digests = new HashMap<>();
        private final Map<String, Long> rowWrites = new HashMap<>();
        Map<String, String> latency;
        final List<SweepPoint> sweep = new ArrayList<>();
        Map<String, String> sink;
        List<Jmh.Score> jmh = List.of();
        Instant finished;
        String loadAfter;

        Results(Instant started, String machine, Workload workload, Settings settings) {
            this.started = started;
            this.machine = machine;
            this.commit = Machine.commit();
            this.loadBefore = Machine.load();
            this.workload = workload;
            this.parallelism = settings.parallelism;
            this.heap = settings.heap;
            this.sweepHeap = settings.sweepHeap;
        }

        /** A step that may fail without losing the rest of the run. */
        interface Step {
            void run() throws Exception;
        }

        final List<String> failedSteps = new ArrayList<>();

        void attempt(String step, Step body) {
            try {
                body.run();
            } catch (Exception e) {
                String reason = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                failedSteps.add(step + ": " + reason);
                log("%s failed: %s", step, e);
            }
        }

        void add(String contender, Map<String, String> result) {
            runs.computeIfAbsent(contender, c -> new ArrayList<>()).add(result);
        }

        double medianRate(String contender, String timeField) {
            double[] rates = runs.get(contender).stream()
                    .mapToDouble(r -> workload.commands() * 1000.0 / Math.max(1, Long.parseLong(r.get(timeField))))
                    .sorted().toArray();
            return rates.length % 2 == 1 ? rates[rates.length / 2] : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
        }

        double median(String contender, String field) {
            double[] values = runs.get(contender).stream().mapToDouble(r -> Double.parseDouble(r.getOrDefault(field, "-1"))).sorted().toArray();
            return values.length % 2 == 1 ? values[values.length / 2] : (values[values.length / 2 - 1] + values[values.length / 2]) / 2;
        }

        long max(String contender, String field) {
            return runs.get(contender).stream().mapToLong(r -> Long.parseLong(r.getOrDefault(field, "-1"))).max().orElse(-1);
        }

        /**
         * Why a run's counts are wrong, or {@code null}: the ceiling must see every record, the others
         * the expected updates and live keys (ours at the default tick: one net change per key and tick).
         */
        String check(String contender, Map<String, String> r) {
            if (STORE_CONTENDERS.contains(contender)) {
                return checkStore(contender, r);
            }
            long updates = Long.parseLong(r.get("updates"));
            long live = Long.parseLong(r.get("live"));
            if (contender.equals("ceiling")) {
                return updates == expected.records() ? null : "read " + updates + " of " + expected.records() + " records";
            }
            Workload.Expected e = expected;
            if (contender.equals("ours-tick-1s")) {
                if (expectedAtDefaultTick == null) {
                    expectedAtDefaultTick = workload.expected(DEFAULT_TICK_MILLIS);
                }
                e = expectedAtDefaultTick;
            }
            return updates == e.updates() && live == e.liveKeys() ? null
                    : updates + " updates / " + live + " live keys, expected " + e.updates() + " / " + e.liveKeys();
        }

        /**
         * Why a store contender's run is wrong, or {@code null}: it must have finished (ours: {@code P}
         * passed the last input time) and its store must hold exactly the final collection.
         */
        String checkStore(String contender, Map<String, String> r) {
            Workload topic = Settings.topicOf(contender, workload);
            if (!Boolean.parseBoolean(r.get("completed"))) {
                return String.format("did not finish in %,d s: P passed %,d of %,d commands", Long.parseLong(r.get("elapsedMs")) / 1000,
                        Long.parseLong(r.get("passedCommands")), topic.commands());
            }
            CollectionDigest want = digest(topic);
            long keys = Long.parseLong(r.get("storeKeys"));
            return keys == want.entries() && want.hash().equals(r.get("storeHash")) ? null
                    : String.format("the store holds %,d keys (digest %s), the final collection %,d (digest %s)", keys,
                    r.get("storeHash"), want.entries(), want.hash());
        }

        /** The digest of a loaded topic's final collection. */
        CollectionDigest digest(Workload topic) {
            return digests.computeIfAbsent(topic.topic(), t -> topic.digest(loaded.get(t).firstTimestamp()));
        }

        /** Rows a store contender's run wrote: its own count, or (ours) the net changes per key and tick of its topic. */
        double rows(String contender, Map<String, String> r) {
            if (r.containsKey("rowsWritten")) {
                return Long.parseLong(r.get("rowsWritten"));
            }
            Workload topic = Settings.topicOf(contender, workload);
            long tick = Long.parseLong(r.get("tickMs"));
            return rowWrites.computeIfAbsent(topic.topic() + "@" + tick, k -> topic.expected(tick).rowWrites());
        }

        /** Median commands/s of a store contender (a run that did not finish: the commands P passed). */
        double commandRate(String contender) {
            return medianOf(runs.get(contender).stream().mapToDouble(r -> (Boolean.parseBoolean(r.get("completed"))
                    ? workload.commands() : Long.parseLong(r.get("passedCommands"))) * 1000.0 / Math.max(1, Long.parseLong(r.get("elapsedMs")))));
        }

        /** Median rows written/s of a store contender over its finished runs (NaN if none finished). */
        double rowRate(String contender) {
            return medianOf(runs.get(contender).stream().filter(r -> Boolean.parseBoolean(r.get("completed")))
                    .mapToDouble(r -> rows(contender, r) * 1000.0 / Math.max(1, Long.parseLong(r.get("elapsedMs")))));
        }

        private static double medianOf(java.util.stream.DoubleStream values) {
            double[] v = values.sorted().toArray();
            return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        }

        /** Whether every run of {@code contender} passed its check. */
        boolean passes(String contender) {
            return runs.containsKey(contender) && runs.get(contender).stream().allMatch(r -> check(contender, r) == null);
        }

        /** The operator-only contenders that ran, in the order they were given. */
        List<String> operatorContenders() {
            return runs.keySet().stream().filter(OPERATOR_CONTENDERS::contains).toList();
        }

        /** The store contenders that ran. */
        List<String> storeContenders() {
            return runs.keySet().stream().filter(STORE_CONTENDERS::contains).toList();
        }

        /** One target of issue 12: a ratio of two contenders' rates. */
        record Target(String name, String numerator, String denominator, double target, boolean rowRates) {
        }

        static final List<Target> TARGETS = List.of(
                new Target("ours end to end / hand-rolled peer (commands/s)", "ours-end-to-end", "peer", 1.5, false),
                new Target("ours end to end / emulator ceiling (rows written/s)", "ours-end-to-end", "emulator-ceiling", 0.5, true),
                new Target("backlog over 24 h / same commands in one tick (commands/s)", "backlog-24h", "backlog-one-tick", 0.8, false),
                new Target("operator only: ours / Flink SQL (whole run)", "ours", "sql", 1.5, false),
                new Target("operator only: ours / stateless ceiling (whole run)", "ours", "ceiling", 0.5, false));

        /** A contender's rate for a target: rows/s or commands/s (store contenders), records/s whole run (operator only). */
        double targetRate(String contender, boolean rowRates) {
            return rowRates ? rowRate(contender) : STORE_CONTENDERS.contains(contender) ? commandRate(contender)
                    : medianRate(contender, "elapsedMs");
        }

        boolean allChecksPass() {
            return failedSteps.isEmpty()
                    && runs.entrySet().stream().allMatch(e -> e.getValue().stream().allMatch(r -> check(e.getKey(), r) == null))
                    && sweep.stream().allMatch(p -> Long.parseLong(p.result.get("updates")) == p.expected.updates());
        }

        String markdown() {
            StringBuilder md = new StringBuilder();
            md.append("# Benchmark results\n\n");
            md.append("- command: `").append(command).append("`\n");
            md.append("- started ").append(started).append(", finished ").append(finished).append('\n');
            md.append("- machine: ").append(machine).append('\n');
            md.append("- commit: ").append(commit).append('\n');
            md.append("- load average (1/5/15 min) before: ").append(loadBefore).append(", after: ").append(loadAfter).append('\n');
            md.append(String.format("- workload: %,d commands over %,d keys, %d-byte values, %.0f%% deletes, %d partitions; "
                            + "parallelism %d, RocksDB state backend, -Xmx%s per contender JVM%n",
                    workload.commands(), workload.keys(), workload.valueSize(), workload.deleteFraction() * 100,
                    workload.partitions(), parallelism, heap));
            md.append(String.format("- expected: %,d updates, %,d live keys%n%n", expected.updates(), expected.liveKeys()));

            if (!operatorContenders().isEmpty()) {
                md.append("## Operator only (a discarding sink counts the updates)\n\n");
                boolean haveOurs = runs.containsKey("ours");
                double ours = haveOurs ? medianRate("ours", "elapsedMs") : Double.NaN;
                md.append("| contender | records/s (median, whole run) | ratio to ours | records/s (median, steady) | CPU s (median) "
                        + "| peak heap MB | live heap MB | peak RSS MB | runs | counts |\n");
                md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
                for (String contender : operatorContenders()) {
                    double rate = medianRate(contender, "elapsedMs");
                    List<String> failures = runs.get(contender).stream().map(r -> check(contender, r)).filter(f -> f != null).toList();
                    md.append(String.format("| %s | %,.0f | %s | %,.0f | %.1f | %d | %d | %d | %d | %s |%n", contender, rate,
                            haveOurs ? String.format("%.2f", rate / ours) : "-", medianRate(contender, "steadyMs"),
                            median(contender, "cpuMs") / 1000.0,
                            max(contender, "heapPeakBytes") >> 20, max(contender, "heapAfterGcPeakBytes") >> 20,
                            max(contender, "rssBytes") >> 20, runs.get(contender).size(),
                            failures.isEmpty() ? "ok" : "MISMATCH: " + failures.get(0)));
                }
                md.append("\nwhole run: from job submission (Kafka Streams: start) to the last update; steady: from the first to the last update. "
                        + "Ratio = records/s of the contender / records/s of ours. CPU s: user + system time of the contender's JVM "
                        + "(`/usr/bin/time -v`), start-up included: less sensitive to other load than wall-clock rates. "
                        + "Peak heap: used heap sampled every 10 ms (garbage included); live heap: the most heap left after any "
                        + "garbage collection; peak RSS: `/usr/bin/time -v`; each the maximum over the runs. "
                        + "ours: upsert.tick 1 ms (every command at its own time, so exactly the same updates as the peers); "
                        + "ours-tick-1s: the default tick, which emits one net change per key and second (checked against that).\n\n");
            }
            if (!storeContenders().isEmpty()) {
                endToEnd(md);
            }
            if (runs.keySet().stream().anyMatch(c -> TARGETS.stream().anyMatch(t -> t.numerator().equals(c)))) {
                targets(md);
            }
            if (latency != null) {
                md.append(String.format("Latency of ours, producer send to sink, %,d commands produced live at %s records/s "
                                + "(%s inserts measured): p50 %s ms, p90 %s ms, p99 %s ms, max %s ms.%n%n",
                        Long.parseLong(latency.get("records")), latency.get("latencyRate"), latency.get("latencyInserts"),
                        latency.get("p50Ms"), latency.get("p90Ms"), latency.get("p99Ms"), latency.get("maxMs")));
            }
            if (!sweep.isEmpty()) {
                md.append("Memory sweep (ours, one snapshot of N distinct keys, -Xmx").append(sweepHeap).append("; retained heap: "
                        + "the most heap left by a full collection forced every " + RETAINED_HEAP_INTERVAL_MS + " ms during the run, "
                        + "i.e. what is live; the pauses slow the run down):\n\n");
                md.append("| keys | records/s (whole run) | retained heap MB | peak heap MB | peak RSS MB | counts |\n"
                        + "|---:|---:|---:|---:|---:|---|\n");
                for (SweepPoint p : sweep) {
                    boolean ok = Long.parseLong(p.result.get("updates")) == p.expected.updates();
                    md.append(String.format("| %,d | %,.0f | %d | %d | %d | %s |%n", p.keys,
                            p.keys * 1000.0 / Math.max(1, Long.parseLong(p.result.get("elapsedMs"))),
                            Long.parseLong(p.result.getOrDefault("retainedHeapPeakBytes", "-1")) >> 20,
                            Long.parseLong(p.result.get("heapPeakBytes")) >> 20,
                            Long.parseLong(p.result.getOrDefault("rssBytes", "-1")) >> 20,
                            ok ? "ok" : "MISMATCH"));
                }
                md.append('\n');
            }
            if (sink != null) {
                md.append("Tiered sink against the Bigtable emulator (`SinkBenchmark`: rates per second, and their ratios):\n\n"
                        + "| figure | value |\n|---|---:|\n");
                sink.forEach((k, v) -> {
                    if (!List.of("heapPeakBytes", "heapAfterGcPeakBytes", "rssBytes", "cpuMs").contains(k)) {
                        md.append("| ").append(k).append(" | ").append(v).append(" |\n");
                    }
                });
                md.append('\n');
            }
            for (String failed : failedSteps) {
                md.append("Did not complete: ").append(failed).append("\n\n");
            }
            if (!jmh.isEmpty()) {
                md.append("JMH microbenchmarks of the operator's hot path:\n\n| benchmark | score | error | unit |\n|---|---:|---:|---|\n");
                for (Jmh.Score s : jmh) {
                    md.append(String.format("| %s | %,.1f | %,.1f | %s |%n", s.name(), s.score(), s.error(), s.unit()));
                }
                md.append('\n');
            }
            return md.toString();
        }

        private void endToEnd(StringBuilder md) {
            md.append("## End to end: from the topic into the store on the Bigtable emulator\n\n");
            md.append("| contender | record times | commands/s (median) | rows written/s (median) | seconds (median) | CPU s (median) "
                    + "| peak heap MB | peak RSS MB | runs | store |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
            for (String contender : storeContenders()) {
                Workload topic = Settings.topicOf(contender, workload);
                String times = contender.equals("emulator-ceiling") ? "-"
                        : topic.timeSpanMillis() == Workload.ONE_MILLISECOND_APART ? "1 ms apart"
                        : topic.timeSpanMillis() == 0 ? "all in one tick" : String.format("over %,d s", topic.timeSpanMillis() / 1000);
                List<String> failures = runs.get(contender).stream().map(r -> check(contender, r)).filter(f -> f != null).toList();
                double rows = rowRate(contender);
                md.append(String.format("| %s | %s | %s | %s | %.1f | %.1f | %d | %d | %d | %s |%n", contender, times,
                        contender.equals("emulator-ceiling") ? "-" : String.format("%,.0f", commandRate(contender)),
                        Double.isNaN(rows) ? "-" : String.format("%,.0f", rows),
                        median(contender, "elapsedMs") / 1000.0, median(contender, "cpuMs") / 1000.0,
                        max(contender, "heapPeakBytes") >> 20, max(contender, "rssBytes") >> 20, runs.get(contender).size(),
                        failures.isEmpty() ? "ok" : "FAILED: " + failures.get(0)));
            }
            md.append("\nEach in its own JVM with its own Bigtable emulator. ours-end-to-end: the job's own graph at its default options "
                    + "(flink-conf/config.yaml: upsert.tick 1 s, checkpoints every 10 s, feedback on), the tiered store on the emulator "
                    + "with a local long-term directory; timed from job submission until the store's persist frontier P passed the "
                    + "last input time; its rows are the net changes per key and tick it must write. backlog-24h / backlog-one-tick: "
                    + "the same, on the same commands with their times spread evenly over 24 hours / all at one time "
                    + "(a run that did not finish shows the commands P had passed per second). peer: Flink SQL upsert-kafka with "
                    + "ChangelogNormalize into a Sink V2 writer over BufferedMutator (UPDATE_BEFORE skipped; no tombstones, frontier "
                    + "or feedback), same Flink configuration, timed from submission to the end of the bounded job; its rows are the "
                    + "mutations it sent. emulator-ceiling: the final collection's rows as BufferedMutator puts, no Flink. "
                    + "Store: every run's store scanned and compared with the workload's final collection (keys and a digest of "
                    + "every key and value); a run whose store differs or that did not finish is FAILED, whatever its speed.\n\n");
        }

        private void targets(StringBuilder md) {
            md.append("## Targets (issue 12)\n\n| ratio | target | measured | met |\n|---|---:|---:|---|\n");
            for (Target t : TARGETS) {
                if (!runs.containsKey(t.numerator()) || !runs.containsKey(t.denominator())) {
                    md.append(String.format("| %s | >= %.1f | not run | no |%n", t.name(), t.target()));
                    continue;
                }
                double ratio = targetRate(t.numerator(), t.rowRates()) / targetRate(t.denominator(), t.rowRates());
                boolean checked = passes(t.numerator()) && passes(t.denominator());
                md.append(String.format("| %s | >= %.1f | %s%s | %s |%n", t.name(), t.target(),
                        Double.isNaN(ratio) ? "-" : String.format("%.2f", ratio), checked ? "" : " (a check failed)",
                        checked && ratio >= t.target() ? "yes" : "no"));
            }
            md.append('\n');
        }

        String csv() {
            StringBuilder csv = new StringBuilder("contender,rep,elapsedMs,steadyMs,updates,live,heapPeakBytes,heapAfterGcPeakBytes,"
                    + "rssBytes,cpuMs,completed,passedCommands,rowsWritten,storeKeys,storeHash,check\n");
            runs.forEach((contender, list) -> {
                for (int i = 0; i < list.size(); i++) {
                    Map<String, String> r = list.get(i);
                    String check = check(contender, r);
                    csv.append(String.join(",", contender, String.valueOf(i), r.get("elapsedMs"), r.getOrDefault("steadyMs", ""),
                            r.getOrDefault("updates", ""), r.getOrDefault("live", ""), r.get("heapPeakBytes"),
                            r.getOrDefault("heapAfterGcPeakBytes", ""), r.getOrDefault("rssBytes", ""), r.getOrDefault("cpuMs", ""),
                            r.getOrDefault("completed", ""), r.getOrDefault("passedCommands", ""),
                            STORE_CONTENDERS.contains(contender) && Boolean.parseBoolean(r.get("completed"))
                                    ? String.valueOf(Math.round(rows(contender, r))) : "",
                            r.getOrDefault("storeKeys", ""), r.getOrDefault("storeHash", ""),
                            check == null ? "ok" : "\"FAILED: " + check.replace("\"", "'") + "\"")).append('\n');
                }
            });
            for (SweepPoint p : sweep) {
                csv.append(String.join(",", "sweep-" + p.keys, "0", p.result.get("elapsedMs"), p.result.get("steadyMs"),
                        p.result.get("updates"), p.result.get("live"), p.result.get("heapPeakBytes"),
                        p.result.getOrDefault("heapAfterGcPeakBytes", ""),
                        p.result.getOrDefault("rssBytes", ""), p.result.getOrDefault("cpuMs", ""), "", "", "", "", "",
                        Long.parseLong(p.result.get("updates")) == p.expected.updates() ? "ok" : "FAILED")).append('\n');
            }
            return csv.toString();
        }
    }
}
