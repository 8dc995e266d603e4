package io.upsertfeedback.job;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The black-box contract of the README, run as a separate process exactly as a user would:
 * {@code Main local --input FILE --exit-when-done --dump-to OUT --changelog-to LOG} must exit 0,
 * OUT must hold the last value of every live key (sorted by key), and the updates in LOG must
 * accumulate to OUT.
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
        String output = awaitExit(process, stdout, 150, 0);
        assertTrue(output.contains("done: the persist frontier passed every input time"), output);

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
     * Ctrl-C (the launcher forwards it as SIGTERM) stops demo mode in order: the job is cancelled
     * while the emulator still runs, then everything is closed. Exit 130, promptly, and no child
     * process (the Bigtable emulator) left behind. The JVM's own shutdown would let the emulator's
     * hook kill it first and leave the sink's last flush retrying for 30 s.
     */
    @Test
    void aSignalStopsDemoModeInOrder(@TempDir Path tmp) throws Exception {
        Path stdout = tmp.resolve("stdout.txt");
        Process process = startLocal(tmp, stdout);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.readString(stdout).contains("commands in") && process.isAlive() && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
        assertTrue(Files.readString(stdout).contains("commands in"), "no progress line:\n" + Files.readString(stdout));
        List<ProcessHandle> children = process.descendants().toList();
        assertFalse(children.isEmpty(), "the emulator runs as a child process");
        process.destroy();
        String output = awaitExit(process, stdout, 20, 130);
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
        Path repo = Path.of("").toAbsolutePath().getParent();
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
                "--add-opens", "java.base/java.util=ALL-UNNAMED",
                "-Dlog4j2.configurationFile=" + repo.resolve("flink-conf/log4j-console.properties"),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "local", "--conf-dir", repo.resolve("flink-conf").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("-Dlocal.data-dir=" + tmp.resolve("data"), "-Drest.bind-port=0", "-Dlocal.progress-interval=2 s"));
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
