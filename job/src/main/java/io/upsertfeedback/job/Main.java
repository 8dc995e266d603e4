package io.upsertfeedback.job;

import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.util.TimeUtils;

import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The entry point: {@code upsert <local|run|produce> [--flag ...] [-Dkey=value ...]}.
 *
 * <p>Options are Flink {@link ConfigOption}s read from {@code config.yaml} in the configuration
 * directory ({@code --conf-dir}, else {@code $FLINK_CONF_DIR}, which {@code flink run} sets, else
 * {@code ./flink-conf}) and overridden by {@code -Dkey=value} arguments. Every key in this job's
 * namespaces ({@code kafka.}, {@code ingest.}, {@code upsert.}, {@code store.}, {@code sink.},
 * {@code feedback.}, {@code local.}, {@code produce.}) must be a known option, so a typo fails at start instead of being ignored. Any
 * wrong or missing option ends the program with exit code 2 and a message naming the option and
 * the fix; option values are never printed (they may hold secrets).
 */
public final class Main {
    static final String USAGE = String.join("\n",
            "usage: upsert <command> [flags] [-Dkey=value ...]",
            "  local    run everything in this process: Kafka broker, Bigtable emulator, Flink MiniCluster with the web UI,",
            "           demo traffic and a progress line; Ctrl-C stops. Flags:",
            "             --input FILE        produce these JSON lines instead of demo traffic",
            "             --exit-when-done    (with --input) stop once the persist frontier passed every input time",
            "             --dump-to OUT       (with --exit-when-done) write the store's live contents as JSON lines",
            "             --changelog-to LOG  write every update the operator emits as JSON lines",
            "             --resume            start on the data of the earlier run in local.data-dir instead of wiping it",
            "             --dead-letters-to F (with --exit-when-done) write the run's dead letters as JSON lines",
            "  run      the production job against real endpoints (kafka.*, store.*), e.g. with `flink run`",
            "  produce  a load generator for a real broker (kafka.bootstrap-servers, kafka.topic, produce.*)",
            "  errors        list the keys whose stored value is an error value, with reason and source record (store.*)",
            "  dead-letters  list the dead-letter topic's records as JSON lines (kafka.bootstrap-servers, ingest.dead-letter.topic)",
            "common flags: --conf-dir DIR (directory of config.yaml; default $FLINK_CONF_DIR, else ./flink-conf)");

    /**
     * System property: the directory {@code ./upsert} was run from (the script cds to the checkout),
     * against which relative paths in flags and path options are resolved; default the working directory.
     */
    static final String CALLER_DIR = "upsert.caller-dir";
    /** A URI's scheme, as {@code gs:} or {@code file:} (two letters at least, so no drive letter). */
    private static final Pattern URI_SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]+:");

    private static final List<String> NAMESPACES = List.of("kafka.", "ingest.", "upsert.", "store.", "sink.", "feedback.",
            "local.", "produce.");
    private static final List<Class<?>> OPTION_CLASSES = List.of(KafkaIngestOptions.class, UpsertOptions.class,
            StoreOptions.class, TieredStoreSink.class, FeedbackSource.class, JobOptions.class);

    /** Flink's own options the README tells users to set: a value that does not parse is named at start like ours. */
    private static final List<ConfigOption<?>> FLINK_OPTIONS_CHECKED = List.of(RestOptions.PORT, CoreOptions.DEFAULT_PARALLELISM,
            CheckpointingOptions.CHECKPOINTING_INTERVAL);

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException | IllegalConfigurationException e) {
            System.err.println("upsert: " + e.getMessage());
            System.exit(2);
        } catch (StartupCheck.Failure e) {
            System.err.println("upsert: " + e.getMessage());
            System.err.print("caused by: ");
            e.getCause().printStackTrace();
            System.exit(1);
        } catch (Throwable e) {
            // exit even though Flink, Kafka or gRPC threads are still alive
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static final List<String> SWITCHES = List.of("--exit-when-done", "--resume");
    private static final List<String> PATH_FLAGS = List.of("--input", "--dump-to", "--changelog-to", "--dead-letters-to", "--conf-dir");

    /** The flag an unknown argument was likely meant to be (same letters, or one's start), else a pointer to the usage. */
    private static String suggestion(String unknown) {
        String letters = unknown.replaceAll("[^A-Za-z]", "").toLowerCase(Locale.ROOT);
        for (String flag : Stream.concat(SWITCHES.stream(), PATH_FLAGS.stream()).toList()) {
            String flagLetters = flag.replace("-", "");
            if (!letters.isEmpty() && (flagLetters.equals(letters) || flagLetters.startsWith(letters) || letters.startsWith(flagLetters))) {
                return "did you mean " + flag + "?";
            }
        }
        return "use a command's flags as below (a Flink or job option is -D<option>=<value>)";
    }

    /** Parses the command line and runs the command; returns the exit code. */
    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.println(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        if (!List.of("local", "run", "produce", "errors", "dead-letters").contains(args[0])) {
            throw new IllegalArgumentException("unknown command '" + args[0] + "'\n" + USAGE);
        }
        Path base = Path.of(System.getProperty(CALLER_DIR, "")).toAbsolutePath();
        Map<String, String> flags = new TreeMap<>();
        Map<String, String> overrides = new TreeMap<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("-D") && a.contains("=")) {
                String option = a.substring(2, a.indexOf('='));
                if (overrides.put(option, a.substring(a.indexOf('=') + 1)) != null) {
                    throw new IllegalArgumentException("-D" + option + " is given twice: only one of them would count. Fix: give -D"
                            + option + " once");
                }
            } else if (a.startsWith("-D")) {
                throw new IllegalArgumentException("'" + a + "' has no value. Fix: give -D" + (a.length() > 2 ? a.substring(2) : "<option>")
                        + "=<value>");
            } else if (flags.containsKey(a)) {
                throw new IllegalArgumentException(a + " is given twice: only one of them would count. Fix: give " + a + " once");
            } else if (SWITCHES.contains(a)) {
                flags.put(a, "true");
            } else if (PATH_FLAGS.contains(a)) {
                if (i + 1 == args.length || args[i + 1].startsWith("-")) {
                    throw new IllegalArgumentException(a + " needs a path" + (i + 1 == args.length ? "" : ", not the flag '" + args[i + 1] + "'")
                            + ". Fix: " + a + " FILE (a file name starting with '-' as ./-name)");
                }
                flags.put(a, localPath(base, args[++i]));
            } else if (a.equals("--help") || a.equals("-h")) {
                System.out.println(USAGE);
                return 0;
            } else {
                throw new IllegalArgumentException("unknown argument '" + a + "'. Fix: " + suggestion(a) + "\n" + USAGE);
            }
        }
        Configuration conf = configuration(flags.get("--conf-dir"), withLocalPaths(overrides, base));
        return switch (args[0]) {
            case "local" -> LocalMode.run(conf, LocalMode.Flags.from(flags));
            case "run" -> {
                requireNoLocalFlags(args[0], flags);
                ClusterMode.run(conf, overrides);
                yield 0;
            }
            case "produce" -> {
                requireNoLocalFlags(args[0], flags);
                Produce.run(conf);
                yield 0;
            }
            case "errors", "dead-letters" -> {
                requireNoLocalFlags(args[0], flags);
                Writer out = new OutputStreamWriter(System.out, StandardCharsets.UTF_8);
                int n = args[0].equals("errors") ? Inspect.errors(conf, out) : Inspect.deadLetters(conf, out);
                System.err.printf("%,d %s%n", n, args[0].equals("errors") ? "error values" : "dead letters");
                yield 0;
            }
            default -> throw new AssertionError(args[0]);
        };
    }

    /**
     * {@code overrides} with the relative paths in the values of the options that name local files or
     * directories made relative to {@code base} instead of the working directory: the schema files
     * ({@code ingest.value.reader-schema}, {@code ingest.value.writer-schemas}, the files of
     * {@code ingest.value.confluent-schemas}), {@code store.long-term.path} when it is not a URI, and
     * {@code local.data-dir}. A value that does not parse is left as it is, for
     * {@link #configuration}'s check to name.
     */
    static Map<String, String> withLocalPaths(Map<String, String> overrides, Path base) {
        Configuration given = Configuration.fromMap(overrides);
        try {
            given.getOptional(KafkaIngestOptions.READER_SCHEMA).ifPresent(v -> given.set(KafkaIngestOptions.READER_SCHEMA, localPath(base, v)));
            given.getOptional(KafkaIngestOptions.WRITER_SCHEMAS).ifPresent(v -> given.set(KafkaIngestOptions.WRITER_SCHEMAS,
                    v.stream().map(path -> localPath(base, path)).toList()));
            given.getOptional(KafkaIngestOptions.CONFLUENT_SCHEMAS).ifPresent(v -> {
                Map<String, String> byId = new TreeMap<>();
                v.forEach((id, path) -> byId.put(id, localPath(base, path)));
                given.set(KafkaIngestOptions.CONFLUENT_SCHEMAS, byId);
            });
        } catch (IllegalArgumentException e) {
            return overrides;
        }
        given.getOptional(StoreOptions.LONG_TERM_PATH).ifPresent(v -> given.set(StoreOptions.LONG_TERM_PATH, localPath(base, v)));
        given.getOptional(JobOptions.LOCAL_DATA_DIR).ifPresent(v -> given.set(JobOptions.LOCAL_DATA_DIR, localPath(base, v)));
        return given.toMap();
    }

    /** {@code path} resolved against {@code base} when it is relative; as it is when absolute, blank or a URI ({@code gs://...}, {@code file:...}). */
    static String localPath(Path base, String path) {
        String p = path.trim();
        if (p.isEmpty() || URI_SCHEME.matcher(p).lookingAt() || Path.of(p).isAbsolute()) {
            return path;
        }
        return base.resolve(p).normalize().toString();
    }

    private static void requireNoLocalFlags(String command, Map<String, String> flags) {
        for (String flag : flags.keySet()) {
            if (!flag.equals("--conf-dir")) {
                throw new IllegalArgumentException(flag + " is a flag of `local`, not of `" + command + "`");
            }
        }
    }

    /** config.yaml of the configuration directory plus the overrides; unknown keys in our namespaces fail. */
    static Configuration configuration(String confDirFlag, Map<String, String> overrides) {
        String confDir = confDirFlag != null ? confDirFlag
                : System.getenv("FLINK_CONF_DIR") != null ? System.getenv("FLINK_CONF_DIR") : "flink-conf";
        if (!Files.isRegularFile(Path.of(confDir, GlobalConfiguration.FLINK_CONF_FILENAME))) {
            throw new IllegalArgumentException("no " + GlobalConfiguration.FLINK_CONF_FILENAME + " in configuration directory '"
                    + confDir + "'. Fix: run from the repository root, or pass --conf-dir DIR (or set FLINK_CONF_DIR)");
        }
        Configuration conf = GlobalConfiguration.loadConfiguration(confDir, Configuration.fromMap(overrides));
        List<ConfigOption<?>> options = knownOptions();
        Set<String> known = new HashSet<>();
        options.forEach(o -> known.add(o.key()));
        List<String> unknown = new ArrayList<>();
        for (String key : conf.keySet()) {
            if (NAMESPACES.stream().anyMatch(key::startsWith) && !known.contains(key)
                    && !key.startsWith(KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown option(s) " + unknown + ". Fix: check the spelling; the options are "
                    + "listed in flink-conf/config.yaml and the README (Kafka client properties go under '"
                    + KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX + "')");
        }
        Stream.concat(options.stream(), FLINK_OPTIONS_CHECKED.stream()).forEach(option -> checkParses(conf, option));
        return conf;
    }

    /**
     * Fails at start, naming the option and what it takes, when a value set for {@code option} does
     * not parse. The value itself is not repeated (nor is Flink's message, which quotes it): an
     * option may hold a secret, and no option value but an endpoint is ever printed.
     */
    private static void checkParses(Configuration conf, ConfigOption<?> option) {
        try {
            conf.getOptional(option);
        } catch (IllegalArgumentException e) {
            Object example = option.hasDefaultValue() ? option.defaultValue() : null;
            String takes = example instanceof Enum<?> constant
                    ? "one of " + Arrays.toString(constant.getDeclaringClass().getEnumConstants())
                    : example instanceof Duration d ? "a duration such as '" + TimeUtils.formatWithHighestUnit(d) + "' (its default)"
                    : example != null ? "a value of the kind of its default, '" + example + "'"
                    : "a value as described in the README";
            throw new IllegalArgumentException("Option '" + option.key() + "' has a value that does not parse. Fix: give " + takes);
        }
    }

    private static List<ConfigOption<?>> knownOptions() {
        List<ConfigOption<?>> options = new ArrayList<>();
        for (Class<?> c : OPTION_CLASSES) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) && f.getType() == ConfigOption.class) {
                    try {
                        f.setAccessible(true);
                        options.add((ConfigOption<?>) f.get(null));
                    } catch (IllegalAccessException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
        }
        return options;
    }
}
