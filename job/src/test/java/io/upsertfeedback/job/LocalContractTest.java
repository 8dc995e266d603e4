package io.upsertfeedback.job;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The black-box contract of the README, run as a separate process exactly as a user would:
 * {@code Main local --input FILE --exit-when-done --dump-to OUT --changelog-to LOG} must exit 0,
 * OUT must hold the last value of every live key (sorted by key), and the updates in LOG must
 * accumulate to OUT. The oracle of the generated inputs is the SPEC's (section 2): per key, the
 * command last in {@code (time, partition, offset)} order, i.e. the last line of the key (one
 * producer, file order, times never going back); its value, and the tick of the line that last
 * changed the value.
 */
class LocalContractTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long T0 = 1_700_000_000_000L;

    @Test
    void localInputExitWhenDone(@TempDir Path tmp) throws Exception {
        Path input = tmp.resolve("input.jsonl");
        Map<String, String[]> oracle = writeInput(input); // key -> {value, coarsened time of the write}
        Path out = tmp.resolve("out.jsonl");
        Path log = tmp.resolve("log.jsonl");
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout,
                "--input", input.toString(), "--exit-when-done", "--dump-to", out.toString(), "--changelog-to", log.toString());
        String output = awaitExit(process, stdout, 300, 0);
        assertTrue(output.contains("done: the source read all 600 records"), output);

        List<JsonNode> dump = readLines(out);
        List<String> keys = dump.stream().map(n -> n.get("key").asText()).toList();
        assertEquals(new ArrayList<>(new TreeMap<>(oracle).keySet()), keys, "OUT holds exactly the live keys, sorted");
        for (JsonNode line : dump) {
            String[] expected = oracle.get(line.get("key").asText());
            assertEquals(expected[0], line.get("value").asText(), line.toString());
            assertTrue(line.get("time").asLong() >= Long.parseLong(expected[1]), line.toString());
        }

        Map<String, Integer> accumulated = new HashMap<>();
        for (JsonNode line : readLines(log)) {
            int diff = line.get("diff").asInt();
            assertTrue(diff == 1 || diff == -1, line.toString());
            accumulated.merge(line.get("key").asText() + "=" + line.get("value").asText(), diff, Integer::sum);
        }
        accumulated.values().removeIf(d -> d == 0);
        Map<String, Integer> expected = new HashMap<>();
        oracle.forEach((k, v) -> expected.put(k + "=" + v[0], 1));
        assertEquals(expected, accumulated, "LOG accumulates to OUT");
    }

    /**
     * The dense input of issue 14 (100,000 commands over 20,000 keys, 10 % deletes, 90-byte values,
     * record times over 10 s in November 2023). The embedded broker deleted the 2023-stamped
     * records by age (7-day retention) under the reading source, which read 81,442 of them; the job
     * then hung, or with a large lead exited 0 with a wrong dump.
     */
    @Test
    void denseInputWithOldRecordTimesIsReadWhole(@TempDir Path tmp) throws Exception {
        Random random = new Random(14);
        List<String[]> commands = new ArrayList<>(); // {key, value or null, ts}
        for (int i = 0; i < 100_000; i++) {
            String key = String.format("k%06d", random.nextInt(20_000));
            String value = random.nextDouble() < 0.1 ? null : String.format("%-90s", "v" + i).replace(' ', 'x');
            commands.add(new String[] {key, value, Long.toString(T0 + i / 10)});
        }
        assertContract(tmp, commands, 400);
    }

    /**
     * The spread input of issue 14 (20,000 commands over 5,000 keys, record times evenly spread
     * over 10 minutes: 600 ticks, November 2023). With the lead of one tick it took 161 s, one
     * feedback round trip per tick; with the unbounded lead it drains at about the speed of the
     * same commands in one tick (SPEC section 3, invariant 12).
     */
    @Test
    void spreadInputOverManyTicks(@TempDir Path tmp) throws Exception {
        Random random = new Random(15);
        List<String[]> commands = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            String key = String.format("k%05d", random.nextInt(5_000));
            String value = random.nextDouble() < 0.1 ? null : "v" + i;
            commands.add(new String[] {key, value, Long.toString(T0 + i * 30L)});
        }
        assertContract(tmp, commands, 300);
    }

    /**
     * long-key.jsonl: a key of 4,093 bytes passed ingestion (4 KiB limit), the store refused it
     * (4,091), the sink failed the job again and again, and the run printed done, exited 0 and
     * dumped an empty store. Now it is a dead letter with its reason, and the other key is stored.
     */
    @Test
    void keyTheStoreCannotHoldIsADeadLetterAndNothingElseIsLost(@TempDir Path tmp) throws Exception {
        List<String[]> commands = new ArrayList<>();
        commands.add(new String[] {"x".repeat(4093), "v-long", Long.toString(T0)});
        commands.add(new String[] {"normal", "v-normal", Long.toString(T0 + 1)});
        String output = assertContract(tmp, commands, 300, "x".repeat(4093));
        assertTrue(output.contains("(1 commands, 1 dead letters)"), output);
        List<JsonNode> letters = readLines(tmp.resolve("dead-letters.jsonl"));
        assertEquals(1, letters.size());
        assertEquals("key of 4093 bytes is over the store's 4091-byte limit", letters.get(0).get("reason").asText());
        assertEquals("x".repeat(4093), letters.get(0).get("key").asText());
        assertEquals("upserts", letters.get(0).get("topic").asText());
    }

    /**
     * A run that reads fewer records than were produced never reports success: here every record
     * is skipped ({@code kafka.starting-offsets=LATEST} starts after the input), and the run used to
     * print done, exit 0 and dump an empty store. Exit 1, saying how many records were not read.
     */
    @Test
    void aRunThatDidNotReadEveryRecordFails(@TempDir Path tmp) throws Exception {
        Path input = tmp.resolve("input.jsonl");
        Files.writeString(input, "{\"key\": \"k\", \"value\": \"v\", \"ts\": 1700000000000}\n");
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout, "--input", input.toString(), "--exit-when-done",
                "--dump-to", tmp.resolve("out.jsonl").toString(), "-Dkafka.starting-offsets=LATEST");
        String output = awaitExit(process, stdout, 300, 1);
        assertTrue(output.contains("not done: the source read 0 commands + 0 dead letters = 0 records of the 1 produced"), output);
        assertFalse(Files.exists(tmp.resolve("out.jsonl")), "no dump of a run that is not done");
    }

    /**
     * Bad record times: {@code "ts": -1} exits 2 naming the line, the problem and the fix (it
     * was Kafka's message alone); a time two days ahead of the clock is taken (the embedded broker
     * refused the whole batch: exit 1 and a broker stack trace).
     */
    @Test
    void recordTimesBeforeEpochFailNamingTheLineAndFarFutureTimesAreTaken(@TempDir Path tmp) throws Exception {
        Path input = tmp.resolve("negative.jsonl");
        Files.writeString(input, "{\"key\": \"k\", \"value\": \"v\", \"ts\": 1700000000000}\n{\"key\": \"k\", \"value\": \"v\", \"ts\": -1}\n");
        Path stdout = tmp.resolve("stdout.txt");
        String output = awaitExit(startLocal(tmp, stdout, "--input", input.toString(), "--exit-when-done"), stdout, 120, 2);
        assertTrue(output.contains("negative.jsonl line 2: \"ts\" is -1, outside the record timestamps") && output.contains("Fix: "), output);

        long future = System.currentTimeMillis() + Duration.ofDays(2).toMillis();
        List<String[]> commands = new ArrayList<>();
        commands.add(new String[] {"now", "a", Long.toString(T0)});
        commands.add(new String[] {"later", "b", Long.toString(future)});
        assertContract(tmp.resolve("future"), commands, 300);
    }

    /**
     * partition-move.jsonl: a key whose records move to another partition is ordered across
     * partitions by time (SPEC section 2): {@code k} ends as {@code three}. Before the order key
     * became {@code (t, partition, offset)}, {@code k} ended as {@code one}, frozen.
     */
    @Test
    void aKeyThatMovesToAnotherPartitionIsOrderedByTime(@TempDir Path tmp) throws Exception {
        List<String[]> commands = new ArrayList<>();
        commands.add(new String[] {"k", "one", Long.toString(T0), "1"});
        commands.add(new String[] {"k", "two", Long.toString(T0 + 5_000), "0"});
        commands.add(new String[] {"k", "three", Long.toString(T0 + 10_000), "0"});
        commands.add(new String[] {"other", "x", Long.toString(T0 + 10_000), "0"});
        assertContract(tmp, commands, 300);
    }

    /**
     * Binary keys and values, and error values, through the contract: Confluent-framed Avro values
     * given as {@code value_b64}; two keys that are not UTF-8 and used to be dumped as the same text
     * stay distinct ({@code key_b64}); a value with an unknown schema id is an error value, visible
     * in the dump and the changelog with its reason and the record's topic, partition and offset.
     */
    @Test
    void binaryKeysAndValuesAndErrorValuesAreVisible(@TempDir Path tmp) throws Exception {
        Path schema = Files.writeString(tmp.resolve("v.avsc"),
                "{\"type\": \"record\", \"name\": \"V\", \"fields\": [{\"name\": \"b\", \"type\": \"bytes\"}]}");
        String lines = String.join("\n",
                "{\"key_b64\": \"/wE=\", \"value_b64\": \"AAAAAAEC/w==\", \"ts\": 1700000000000, \"partition\": 0}",
                "{\"key_b64\": \"/gE=\", \"value_b64\": \"AAAAAAECAA==\", \"ts\": 1700000000000, \"partition\": 0}",
                "{\"key\": \"bad\", \"value_b64\": \"AAAAAAkC/w==\", \"ts\": 1700000001000, \"partition\": 0}") + "\n";
        Path input = Files.writeString(tmp.resolve("input.jsonl"), lines);
        Path out = tmp.resolve("out.jsonl");
        Path log = tmp.resolve("log.jsonl");
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout, "--input", input.toString(), "--exit-when-done", "--dump-to", out.toString(),
                "--changelog-to", log.toString(), "-Dingest.value.format=CONFLUENT", "-Dingest.value.reader-schema=" + schema,
                "-Dingest.value.confluent-schemas=1:" + schema);
        String output = awaitExit(process, stdout, 300, 0);
        assertTrue(output.contains("error values 1"), output);
        // sorted by key bytes: "bad" (0x62...) < 0xFE 0x01 < 0xFF 0x01; values are plain Avro in the reader schema
        assertEquals(List.of(
                        "{\"key\":\"bad\",\"value_b64\":\"AAAAAAkC/w==\",\"time\":1700000001000,\"error\":\"unknown schema id 9\","
                                + "\"topic\":\"upserts\",\"partition\":0,\"offset\":2}",
                        "{\"key_b64\":\"/gE=\",\"value_b64\":\"AgA=\",\"time\":1700000000000}",
                        "{\"key_b64\":\"/wE=\",\"value_b64\":\"Av8=\",\"time\":1700000000000}"),
                Files.readAllLines(out, StandardCharsets.UTF_8));
        assertTrue(Files.readString(log).contains("\"error\":\"unknown schema id 9\",\"partition\":0,\"offset\":2"), Files.readString(log));
    }

    /**
     * Local mode restarts on existing data: a run killed with SIGKILL mid-input is started again
     * with {@code --resume} on the same data directory; the broker comes back with its records, the
     * store (the emulator outlived the killed JVM) is rehydrated, and the dump equals the oracle, i.e.
     * what an uninterrupted run dumps (the other contract tests check that one against it).
     */
    @Test
    void killedMidInputThenResumedGivesTheSameDump(@TempDir(cleanup = CleanupMode.ON_SUCCESS) Path tmp) throws Exception {
        Random random = new Random(16);
        StringBuilder lines = new StringBuilder();
        Map<String, String[]> oracle = new TreeMap<>();
        for (int i = 0; i < 20_000; i++) {
            String key = "k" + random.nextInt(2_000);
            String value = random.nextDouble() < 0.1 ? null : "v" + i;
            long ts = T0 + i;
            lines.append(JSON.writeValueAsString(JSON.createObjectNode().put("key", key).put("value", value).put("ts", ts))).append('\n');
            if (value == null) {
                oracle.remove(key);
            } else {
                oracle.put(key, new String[] {value, Long.toString(ts / 1000 * 1000)});
            }
        }
        Path input = Files.writeString(tmp.resolve("input.jsonl"), lines.toString());
        Path first = tmp.resolve("first.txt");
        // a progress line every 100 ms: the kill lands while keys are stored and P is still below the input's end
        // (P -inf: the sink has written but not yet published a frontier)
        // a writer lease of 5 s: the resumed job takes the store over once it has seen the killed one's lease silent that long
        Process killed = startLocal(tmp, first, "--input", input.toString(), "--exit-when-done", "-Dlocal.progress-interval=100 ms",
                "-Dsink.writer-lease=5 s");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        // P finite or -inf, never +inf; a finite P shows its date when it is not today (2023-11-14 22:13:20)
        while (!Files.readString(first).matches("(?s).*\\| P (-inf|[0-9][0-9: -]*) \\| store [1-9][0-9,]* keys.*") && killed.isAlive()
                && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertTrue(killed.isAlive() && !Files.readString(first).contains("done:"), "not mid-input:\n" + Files.readString(first));
        killed.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, nothing stopped in order

        Path out = tmp.resolve("out.jsonl");
        Path second = tmp.resolve("second.txt");
        Process resumed = startLocal(tmp, second, "--resume", "--input", input.toString(), "--exit-when-done",
                "--dump-to", out.toString(), "-Dsink.writer-lease=5 s");
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (!Files.readString(second).contains("done:") && resumed.isAlive() && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        // a new user's finding: a SIGTERM after "done:" (while the dump was written) made a complete run exit 130
        resumed.destroy();
        String output = awaitExit(resumed, second, 300, 0);
        assertTrue(output.contains("resuming on the store of the earlier run") && output.contains("rehydrating from the store"), output);
        Map<String, String[]> dumped = new TreeMap<>();
        for (JsonNode line : readLines(out)) {
            dumped.put(line.get("key").asText(), new String[] {line.get("value").asText(), line.get("time").asText()});
        }
        String runs = "killed run:\n" + Files.readString(first) + "\nresumed run:\n" + output + "\n(both in " + tmp + ")";
        assertEquals(oracle.keySet(), dumped.keySet(), runs);
        oracle.forEach((key, expected) -> assertArrayEquals(expected, dumped.get(key), key + "\n" + runs));
    }

    /**
     * Runs {@code local} on {@code commands} ({key, value or null, ts[, partition]}, one producer in this order),
     * asserts exit 0, OUT equal to the oracle (value and time of every live key) and LOG accumulating
     * to OUT, and prints the wall time and counts; {@code deadLetterKeys} are expected as dead
     * letters (not in OUT). Returns the process output.
     */
    private static String assertContract(Path tmp, List<String[]> commands, long seconds, String... deadLetterKeys) throws Exception {
        Files.createDirectories(tmp);
        Path input = tmp.resolve("input.jsonl");
        Map<String, String[]> oracle = new TreeMap<>(); // key -> {value, tick of the line that last changed it}
        StringBuilder lines = new StringBuilder();
        for (String[] c : commands) {
            ObjectNode line = JSON.createObjectNode().put("key", c[0]).put("value", c[1]).put("ts", Long.parseLong(c[2]));
            if (c.length > 3) {
                line.put("partition", Integer.parseInt(c[3]));
            }
            lines.append(JSON.writeValueAsString(line)).append('\n');
            if (List.of(deadLetterKeys).contains(c[0])) {
                continue;
            }
            if (c[1] == null) {
                oracle.remove(c[0]);
            } else if (!oracle.containsKey(c[0]) || !oracle.get(c[0])[0].equals(c[1])) {
                oracle.put(c[0], new String[] {c[1], Long.toString(Long.parseLong(c[2]) / 1000 * 1000)});
            }
        }
        Files.writeString(input, lines.toString(), StandardCharsets.UTF_8);
        Path out = tmp.resolve("out.jsonl");
        Path log = tmp.resolve("log.jsonl");
        Path stdout = tmp.resolve("stdout.txt");
        long start = System.nanoTime();
        Process process = startLocal(tmp, stdout,
                "--input", input.toString(), "--exit-when-done", "--dump-to", out.toString(), "--changelog-to", log.toString(),
                "--dead-letters-to", tmp.resolve("dead-letters.jsonl").toString());
        String output = awaitExit(process, stdout, seconds, 0);
        System.out.printf("contract run: %,d commands, %,d live keys, %.1f s wall%n", commands.size(), oracle.size(),
                (System.nanoTime() - start) / 1e9);

        Map<String, String[]> dumped = new TreeMap<>();
        for (JsonNode line : readLines(out)) {
            dumped.put(line.get("key").asText(), new String[] {line.get("value").asText(), line.get("time").asText()});
        }
        assertEquals(oracle.keySet(), dumped.keySet(), "OUT holds exactly the live keys");
        oracle.forEach((key, expected) -> assertArrayEquals(expected, dumped.get(key), key));

        Map<String, Integer> accumulated = new HashMap<>();
        for (JsonNode line : readLines(log)) {
            accumulated.merge(line.get("key").asText() + "=" + line.get("value").asText(), line.get("diff").asInt(), Integer::sum);
        }
        accumulated.values().removeIf(d -> d == 0);
        Map<String, Integer> expected = new HashMap<>();
        oracle.forEach((k, v) -> expected.put(k + "=" + v[0], 1));
        assertEquals(expected, accumulated, "LOG accumulates to OUT");
        return output;
    }

    /**
     * Ctrl-C (the launcher forwards it as SIGTERM) stops demo mode in order: the job is cancelled
     * while the emulator still runs, then everything is closed. Exit 130, promptly, and no child
     * process (the Bigtable emulator) left behind. The JVM's own shutdown would let the emulator's
     * hook kill it first and leave the sink's last flush retrying for 30 s.
     */
    @Test
    void aSignalStopsDemoModeInOrder(@TempDir Path tmp) throws Exception {
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout);
        List<ProcessHandle> children = awaitProgressLine(process, stdout);
        // a new user's finding: a second run on the data directory of a live one (there --resume) started a second broker
        // on its log directory; a fresh one would have wiped it
        for (List<String> flags : List.of(List.of("--resume"), List.<String>of())) {
            Path second = tmp.resolve("second" + flags + ".txt");
            String refused = awaitExit(startLocal(tmp, second, flags.toArray(String[]::new)), second, 120, 2);
            assertTrue(refused.contains("is in use by another `upsert local` run (process " + process.pid() + "). Fix:"), refused);
        }
        assertTrue(process.isAlive(), "the running one goes on");
        process.destroy();
        assertStoppedInOrder(process, stdout, children, 20);
    }

    /**
     * A new user's finding: {@code kill -9} of the {@code ./upsert} script (which cannot pass it on)
     * left its Java process running unseen. The script passes its pid ({@link LocalMode#LAUNCHER_PID});
     * when that process ends, the run stops in order as on SIGTERM: exit 130, nothing left running.
     */
    @Test
    void aRunWhoseLauncherDiesStopsInOrder(@TempDir Path tmp) throws Exception {
        Process launcher = new ProcessBuilder("sleep", "600").start();
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout, List.of("-D" + LocalMode.LAUNCHER_PID + "=" + launcher.pid()));
        List<ProcessHandle> children = awaitProgressLine(process, stdout);
        launcher.destroyForcibly().waitFor();
        assertStoppedInOrder(process, stdout, children, 30);
    }

    /**
     * A new user's finding: with its Bigtable emulator killed, a run printed nothing for minutes (its
     * progress line waited on the store), then exited 1 on SIGTERM. Now it stops with exit code 1
     * within seconds, naming the emulator and the fix, and a progress loop never waits on the store
     * for long.
     */
    @Test
    void aRunWhoseEmulatorDiesStopsNamingIt(@TempDir Path tmp) throws Exception {
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout);
        ProcessHandle emulator = awaitProgressLine(process, stdout).stream()
                .filter(p -> p.info().commandLine().map(c -> c.contains("cbtemulator")).orElse(false)).findFirst().orElseThrow();
        emulator.destroyForcibly();
        String output = awaitExit(process, stdout, 60, 1);
        assertTrue(output.contains("the Bigtable emulator (process " + emulator.pid() + ") ended while the job ran: the store it kept "
                + "in memory is lost. Fix: run again with --resume"), output);
    }

    /** Waits for demo mode's first progress line; returns the run's child processes (the emulator among them). */
    private static List<ProcessHandle> awaitProgressLine(Process process, Path stdout) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.readString(stdout).contains("commands in") && process.isAlive() && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
        assertTrue(Files.readString(stdout).contains("commands in"), "no progress line:\n" + Files.readString(stdout));
        List<ProcessHandle> children = process.descendants().toList();
        assertFalse(children.isEmpty(), "the emulator runs as a child process");
        return children;
    }

    /** An orderly stop: exit 130 within {@code seconds}, "stopping" said, none of {@code children} left running. */
    private static void assertStoppedInOrder(Process process, Path stdout, List<ProcessHandle> children, long seconds) throws Exception {
        String output = awaitExit(process, stdout, seconds, 130);
        assertTrue(output.contains("stopping"), output);
        for (ProcessHandle child : children) {
            assertFalse(child.isAlive(), "left running: " + child.info());
        }
    }

    /**
     * Waits {@code seconds} for the process to exit (else kills it and fails), asserts its exit
     * code, and returns its output.
     */
    private static String awaitExit(Process process, Path stdout, long seconds, int expectedCode) throws Exception {
        boolean exited = process.waitFor(seconds, TimeUnit.SECONDS);
        if (!exited) {
            process.destroyForcibly();
        }
        String output = Files.readString(stdout);
        assertTrue(exited, "did not exit within " + seconds + " s:\n" + output);
        assertEquals(expectedCode, process.exitValue(), output);
        return output;
    }

    /** {@code Main local} as a child process, as the README runs it, with its output in {@code stdout}. */
    private static Process startLocal(Path tmp, Path stdout, String... args) throws IOException {
        return startLocal(tmp, stdout, List.of(), args);
    }

    /** As {@link #startLocal(Path, Path, String...)}, with JVM options ({@code -Dname=value}: system properties). */
    private static Process startLocal(Path tmp, Path stdout, List<String> jvmOptions, String... args) throws IOException {
        Path repo = Path.of("").toAbsolutePath().getParent();
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
                "--add-opens", "java.base/java.util=ALL-UNNAMED",
                "-Dlog4j2.configurationFile=" + repo.resolve("flink-conf/log4j-console.properties")));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "local", "--conf-dir", repo.resolve("flink-conf").toString()));
        for (String option : List.of("-Dlocal.data-dir=" + tmp.resolve("data"), "-Drest.bind-port=0", "-Dlocal.progress-interval=2 s")) {
            String name = option.substring(0, option.indexOf('=') + 1);
            if (Arrays.stream(args).noneMatch(a -> a.startsWith(name))) {
                command.add(option); // a default; a -D among args takes its place (an option given twice is refused)
            }
        }
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectErrorStream(true).start();
    }

    /** Updates, deletes, equal updates, a pinned partition and odd characters; returns the oracle. */
    private static Map<String, String[]> writeInput(Path file) throws IOException {
        Random random = new Random(5);
        Map<String, String[]> oracle = new LinkedHashMap<>();
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 600; i++) {
            String key = i % 97 == 0 ? "pinned-" + i % 3 : "k" + random.nextInt(60);
            long ts = T0 + i * 25L;
            double dice = random.nextDouble();
            String value = dice < 0.15 ? null
                    : dice < 0.25 && oracle.containsKey(key) ? oracle.get(key)[0]
                    : "v" + i + (i % 50 == 0 ? " \"quoted\" ünïcödé" : "");
            ObjectNode line = JSON.createObjectNode().put("key", key).put("value", value).put("ts", ts);
            if (key.startsWith("pinned")) {
                line.put("partition", 2);
            }
            lines.append(JSON.writeValueAsString(line)).append('\n');
            if (value == null) {
                oracle.remove(key);
            } else if (!oracle.containsKey(key) || !oracle.get(key)[0].equals(value)) {
                oracle.put(key, new String[] {value, Long.toString(ts / 1000 * 1000)});
            }
        }
        Files.writeString(file, lines.toString(), StandardCharsets.UTF_8);
        return oracle;
    }

    private static List<JsonNode> readLines(Path file) throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            nodes.add(JSON.readTree(line));
        }
        return nodes;
    }
}
