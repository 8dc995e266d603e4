package io.upsertfeedback.bench;

import io.upsertfeedback.bench.kafka.Report;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A child JVM under {@code /usr/bin/time -v}: its stdout and stderr go to log files, its result is
 * the last {@link Report} line it printed, plus its peak RSS and CPU time (user + system) as
 * {@code time} reports them.
 */
final class ChildProcess {
    private static final Pattern MAX_RSS = Pattern.compile("Maximum resident set size \\(kbytes\\): (\\d+)");
    private static final Pattern CPU = Pattern.compile("(?:User|System) time \\(seconds\\): ([\\d.]+)");
    /**
     * JVM options of every contender. The logging configuration is named: Flink's test jars on the
     * classpath carry a {@code log4j2-test.properties}, which Log4j prefers to the first
     * {@code log4j2.properties} (this module's), and which logs nothing.
     */
    static final List<String> JVM_OPTIONS = List.of("-XX:+UseG1GC", "-Dlog4j2.configurationFile=log4j2.properties",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "--add-opens", "java.base/java.util=ALL-UNNAMED");

    private ChildProcess() {
    }

    /**
     * The java command for {@code mainClass} on {@code classpath} with {@code heap} (e.g. {@code 1g}),
     * plus the options in the environment variable {@code BENCH_JAVA_OPTS} (e.g. a JFR recording).
     */
    static List<String> java(String classpath, String heap, List<String> extraJvmOptions, String mainClass, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        command.addAll(JVM_OPTIONS);
        command.addAll(extraJvmOptions);
        String fromEnvironment = System.getenv("BENCH_JAVA_OPTS");
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            command.addAll(List.of(fromEnvironment.trim().split("\\s+")));
        }
        command.add("-cp");
        command.add(classpath);
        command.add(mainClass);
        command.addAll(args);
        return command;
    }

    /**
     * Runs {@code command} under {@code /usr/bin/time -v} to its end; returns its result fields plus
     * {@code rssBytes}. Fails with the tail of its logs when it fails or prints no result.
     */
    static Map<String, String> run(String name, List<String> command, Path logDir, long timeoutMinutes) throws Exception {
        List<String> timed = new ArrayList<>(List.of("/usr/bin/time", "-v"));
        timed.addAll(command);
        Files.createDirectories(logDir);
        Path out = logDir.resolve(name + ".out");
        Path err = logDir.resolve(name + ".err");
        Process process = new ProcessBuilder(timed).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(timeoutMinutes, TimeUnit.MINUTES)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw new IllegalStateException(name + " did not finish in " + timeoutMinutes + " min; see " + out + " and " + err);
        }
        Map<String, String> result = null;
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            Map<String, String> parsed = Report.parse(line);
            result = parsed != null ? parsed : result;
        }
        String errors = Files.readString(err, StandardCharsets.UTF_8);
        if (process.exitValue() != 0 || result == null) {
            throw new IllegalStateException(name + " failed (exit " + process.exitValue() + "):\n"
                    + errors.substring(Math.max(0, errors.length() - 4000)));
        }
        Matcher rss = MAX_RSS.matcher(errors);
        if (rss.find()) {
            result.put("rssBytes", String.valueOf(Long.parseLong(rss.group(1)) * 1024));
        }
        double cpuSeconds = 0;
        for (Matcher cpu = CPU.matcher(errors); cpu.find(); ) {
            cpuSeconds += Double.parseDouble(cpu.group(1));
        }
        result.put("cpuMs", String.valueOf(Math.round(cpuSeconds * 1000)));
        return result;
    }

    /** A long-lived child (the broker) and what it announced on its first {@code prefix} line. */
    record Service(Process process, String announced) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            process.getOutputStream().close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    /** Starts a long-lived child and waits for its stdout line starting with {@code prefix}. */
    static Service startService(List<String> command, Path log, String prefix) throws IOException {
        Files.createDirectories(log.getParent());
        Process process = new ProcessBuilder(command).redirectError(log.toFile()).start();
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroy));
        BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            if (line.startsWith(prefix)) {
                return new Service(process, line.substring(prefix.length()).trim());
            }
        }
        throw new IllegalStateException("service ended before printing '" + prefix + "'; see " + log);
    }
}
