package io.upsertfeedback.cluster;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint;
import org.apache.flink.runtime.jobmanager.JobManagerProcessSpec;
import org.apache.flink.runtime.jobmanager.JobManagerProcessUtils;
import org.apache.flink.runtime.taskexecutor.TaskManagerRunner;
import org.apache.flink.runtime.util.config.memory.ProcessMemoryUtils;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * A Flink standalone session cluster as separate JVM processes, started the way a distribution's
 * {@code bin/jobmanager.sh} and {@code bin/taskmanager.sh} start them, but from the Flink jars on
 * Maven Central instead of a distribution archive: the JobManager runs
 * {@link StandaloneSessionClusterEntrypoint}, each TaskManager {@link TaskManagerRunner}, both with
 * {@code --configDir} (the directory of {@code config.yaml}), the memory-derived JVM options and
 * {@code -D} settings that the scripts compute, the {@code env.java.*opts*} options, and the
 * cluster classpath (what a distribution's {@code lib/} provides; {@code target/cluster-classpath.txt}
 * of this module). {@link #flink} runs Flink's command-line client ({@code CliFrontend}, what
 * {@code bin/flink} runs) with {@code FLINK_CONF_DIR} set to the same directory.
 *
 * <p>{@code overrides} are {@code -D} settings for every process (ports, addresses, heartbeats),
 * applied over {@code config.yaml} as {@code jobmanager.sh -D...} would. Each process writes its
 * output to {@code <logDir>/<role>.log}. {@link #close()} kills every process.
 */
public final class SessionCluster implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String classpath;
    private final Path confDir;
    private final Path logDir;
    private final Map<String, String> overrides;
    private final Configuration conf;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    /** The role ({@code jobmanager}, {@code taskmanager-N}, {@code flink-<action>}) of each running process, for thread dumps. */
    private final Map<Process, String> roles = new ConcurrentHashMap<>();
    private int taskManagersStarted;
    private Process jobManager;

    /** Kills the processes if this JVM ends without {@link #close()} (a test run interrupted, Ctrl-C). */
    private final Thread shutdownHook = new Thread(() -> processes.forEach(Process::destroyForcibly), "session-cluster-kill");

    /** A cluster of no process yet ({@link #startJobManager} starts one); its REST calls go to {@code rest.port}. */
    SessionCluster(String classpath, Path confDir, Path logDir, Map<String, String> overrides) {
        this.classpath = classpath;
        this.confDir = confDir.toAbsolutePath();
        this.logDir = logDir.toAbsolutePath();
        this.overrides = new LinkedHashMap<>(overrides);
        this.conf = GlobalConfiguration.loadConfiguration(this.confDir.toString(), Configuration.fromMap(overrides));
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Starts the JobManager and waits (up to {@code timeout}) until its REST API answers.
     *
     * @param classpath the Flink processes' classpath ({@code :}-separated jars)
     */
    public static SessionCluster startJobManager(String classpath, Path confDir, Path logDir, Map<String, String> overrides,
                                                 Duration timeout) throws IOException {
        SessionCluster cluster = new SessionCluster(classpath, confDir, logDir, overrides);
        try {
            Files.createDirectories(cluster.logDir);
            JobManagerProcessSpec spec = JobManagerProcessUtils.processSpecFromConfig(cluster.conf);
            cluster.jobManager = cluster.launch("jobmanager", StandaloneSessionClusterEntrypoint.class.getName(),
                    words(JobManagerProcessUtils.generateJvmParametersStr(spec, cluster.conf)),
                    words(JobManagerProcessUtils.generateDynamicConfigsStr(spec)), CoreOptions.FLINK_JM_JVM_OPTIONS.key(),
                    CoreOptions.FLINK_DEFAULT_JM_JVM_OPTIONS.key());
            cluster.awaitRest("/overview", overview -> true, timeout);
            return cluster;
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /** Starts one more TaskManager process (it registers itself with the JobManager); see {@link #awaitTaskManagers}. */
    public Process startTaskManager() throws IOException {
        TaskExecutorProcessSpec spec = TaskExecutorProcessUtils.processSpecFromConfig(conf);
        return launch("taskmanager-" + (++taskManagersStarted), TaskManagerRunner.class.getName(),
                words(ProcessMemoryUtils.generateJvmParametersStr(spec)), words(TaskExecutorProcessUtils.generateDynamicConfigsStr(spec)),
                CoreOptions.FLINK_TM_JVM_OPTIONS.key(), CoreOptions.FLINK_DEFAULT_TM_JVM_OPTIONS.key());
    }

    /** Waits until exactly {@code count} TaskManagers are registered; returns the free slots. */
    public int awaitTaskManagers(int count, Duration timeout) throws IOException {
        return awaitRest("/overview", o -> o.path("taskmanagers").asInt() == count, timeout).path("slots-available").asInt();
    }

    /** {@code http://localhost:<rest.port>}. */
    public String restUrl() {
        return "http://localhost:" + conf.get(RestOptions.PORT);
    }

    /** GET of a REST path ({@code /jobs/...}) as JSON. */
    public JsonNode get(String path) throws IOException {
        return json(path, send(path));
    }

    /** The JSON of an HTTP 200 answer to GET {@code path}; any other status is an error. */
    private static JsonNode json(String path, HttpResponse<String> r) throws IOException {
        if (r.statusCode() != 200) {
            throw new IOException("GET " + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private HttpResponse<String> send(String path) throws IOException {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(restUrl() + path)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * Polls {@code path} until {@code done} holds for its JSON; returns that JSON. Not yet: a refused
     * connection, and HTTP 503, which Flink's REST endpoint answers while it is up but its leader
     * election is still going on ("Service temporarily unavailable due to an ongoing leader election").
     *
     * @throws IOException when {@code timeout} passes first (with the last answer), on any other HTTP
     *                     status, or when the JobManager process this cluster started has exited
     */
    public JsonNode awaitRest(String path, Predicate<JsonNode> done, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer";
        while (true) {
            if (jobManager != null && !jobManager.isAlive()) {
                throw new IOException("the JobManager exited with code " + jobManager.exitValue() + "; see " + logDir.resolve("jobmanager.log"));
            }
            try {
                HttpResponse<String> r = send(path);
                if (r.statusCode() == 503) {
                    last = "HTTP 503 " + r.body();
                } else {
                    JsonNode node = json(path, r);
                    if (done.test(node)) {
                        return node;
                    }
                    last = node.toString();
                }
            } catch (ConnectException e) {
                last = e.toString();
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("GET " + path + " did not reach the expected state within " + timeout + "; last answer: " + last
                        + "\n" + threadDumps());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
    }

    /** The outcome of one {@code flink} command: exit code and its output (stdout and stderr). */
    public record Cli(int exitCode, String output, Duration took) {
    }

    /**
     * Runs {@code flink <action> <args...>} (Flink's {@code CliFrontend}) with {@code FLINK_CONF_DIR}
     * set to the cluster's configuration directory and the cluster's {@code rest.*} overrides added
     * as {@code -D} options after the action, as a user of a cluster on these ports would.
     */
    public Cli flink(String action, List<String> args, Duration timeout) throws IOException {
        List<String> command = new ArrayList<>(jvm(CoreOptions.FLINK_CLI_JVM_OPTIONS.key(), null));
        command.add(org.apache.flink.client.cli.CliFrontend.class.getName());
        command.add(action);
        overrides.forEach((k, v) -> {
            if (k.startsWith("rest.")) {
                command.add("-D" + k + "=" + v);
            }
        });
        command.addAll(args);
        Path output = Files.createTempFile(logDir, "flink-" + action + "-", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        pb.environment().put("FLINK_CONF_DIR", confDir.toString());
        long start = System.nanoTime();
        Process p = pb.start();
        processes.add(p);
        roles.put(p, "flink-" + action);
        try {
            boolean ended = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                String dumps = threadDumps();
                p.destroyForcibly();
                throw new IOException("flink " + action + " did not end within " + timeout + ":\n" + Files.readString(output) + "\n" + dumps);
            }
            return new Cli(p.exitValue(), Files.readString(output), Duration.ofNanos(System.nanoTime() - start));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            processes.remove(p);
            roles.remove(p);
            Files.deleteIfExists(output);
        }
    }

    private Process launch(String role, String mainClass, List<String> memoryJvmOptions, List<String> memoryDynamicConfigs,
                           String roleJvmOptionsKey, String roleDefaultJvmOptionsKey) throws IOException {
        List<String> command = new ArrayList<>(jvm(roleJvmOptionsKey, roleDefaultJvmOptionsKey));
        command.addAll(command.size() - 2, memoryJvmOptions);
        command.add(mainClass);
        command.add("--configDir");
        command.add(confDir.toString());
        for (int i = 0; i + 1 < memoryDynamicConfigs.size(); i += 2) {
            command.add(memoryDynamicConfigs.get(i));   // "-D"
            command.add(memoryDynamicConfigs.get(i + 1));
        }
        overrides.forEach((k, v) -> {
            command.add("-D");
            command.add(k + "=" + v);
        });
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logDir.resolve(role + ".log").toFile())).start();
        processes.add(p);
        roles.put(p, role);
        return p;
    }

    /**
     * What a timed-out wait reports: the stacks of the Flink task threads (named
     * {@code "... (i/n)#attempt"}) of every live JobManager and TaskManager process, and of the main
     * thread of a {@code flink} command still running, read with the JDK's {@code jstack}; each whole
     * dump goes to {@code <logDir>/<role>-threads-<millis>.txt}. A task stuck in INITIALIZING shows
     * where here, since the processes' logs are gone with a CI machine.
     */
    String threadDumps() {
        StringBuilder report = new StringBuilder("task threads of the cluster's processes at the timeout:");
        Path jstack = Path.of(System.getProperty("java.home"), "bin", "jstack");
        List<Map.Entry<Process, String>> clientsFirst = new ArrayList<>(roles.entrySet());
        clientsFirst.sort(Comparator.comparing((Map.Entry<Process, String> e) -> !e.getValue().startsWith("flink-")));
        for (Map.Entry<Process, String> e : clientsFirst) {
            if (!e.getKey().isAlive()) {
                continue;
            }
            try {
                Path file = logDir.resolve(e.getValue() + "-threads-" + System.currentTimeMillis() + ".txt");
                Process dump = new ProcessBuilder(jstack.toString(), "-l", String.valueOf(e.getKey().pid()))
                        .redirectErrorStream(true).redirectOutput(file.toFile()).start();
                if (!dump.waitFor(30, TimeUnit.SECONDS)) {
                    dump.destroyForcibly();
                }
                report.append("\n== ").append(e.getValue()).append(" (whole dump: ").append(file).append(")");
                boolean client = e.getValue().startsWith("flink-");
                for (String thread : Files.readString(file).split("\n\n")) {
                    String first = thread.lines().findFirst().orElse("");
                    boolean task = first.startsWith("\"") && !first.startsWith("\"OutputFlusher") && first.matches(".*\\(\\d+/\\d+\\)#\\d+.*");
                    if (task || client && first.startsWith("\"main\"")) {
                        report.append("\n").append(thread.lines().limit(40).reduce((a, b) -> a + "\n" + b).orElse(""));
                    }
                }
            } catch (IOException ex) {
                report.append("\n== ").append(e.getValue()).append(": no thread dump: ").append(ex);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return report.append("\n(interrupted)").toString();
            }
        }
        return report.toString();
    }

    /** {@code java <env.java.*opts*> <logging> -cp <classpath>}, as the scripts build it. */
    private List<String> jvm(String roleKey, String roleDefaultKey) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        for (String key : Arrays.asList(CoreOptions.FLINK_DEFAULT_JVM_OPTIONS.key(), roleDefaultKey, CoreOptions.FLINK_JVM_OPTIONS.key(), roleKey)) {
            if (key != null) {
                command.addAll(words(conf.getString(key, "")));
            }
        }
        command.add("-Dlog4j2.configurationFile=" + confDir.resolve("log4j-console.properties"));
        command.add("-Djava.util.logging.config.file=" + confDir.resolve("jul-console.properties"));
        command.add("-cp");
        command.add(classpath);
        return command;
    }

    private static List<String> words(String s) {
        return Arrays.stream(s.trim().split("\\s+")).filter(w -> !w.isEmpty()).toList();
    }

    /**
     * Stops every process of the cluster: SIGTERM (Flink shuts down in order), SIGKILL for any still
     * running after 10 s.
     */
    @Override
    public void close() {
        processes.forEach(Process::destroy);
        for (Process p : processes) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                processes.forEach(Process::destroyForcibly);
                return;
            }
        }
        processes.clear();
        roles.clear();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is running or has run
        }
    }
}
