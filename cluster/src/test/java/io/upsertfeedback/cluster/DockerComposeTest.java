package io.upsertfeedback.cluster;

import io.upsertfeedback.connectors.feedback.FeedbackSource;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code docker/compose.yaml} cannot run here (no Docker engine), so this checks what it refers to:
 * the mounted configuration directory and job jar are the ones the cluster test uses, every key it
 * sets is a real Flink or job option, the topics and the bucket it creates are the ones the
 * configuration names, the Flink image is the Flink version of the build, and the README's
 * submit command names the mounted jar.
 */
class DockerComposeTest {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Path COMPOSE = REPO.resolve("docker/compose.yaml");

    @SuppressWarnings("unchecked")
    private static Map<String, Object> compose() throws IOException {
        return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(COMPOSE));
    }

    private static Map<String, Object> flinkService() throws IOException {
        return service("jobmanager");
    }

    /** A service, with its YAML merge key ({@code <<: *flink}, which YAML 1.2 parsers leave as a key) applied. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> service(String name) throws IOException {
        Map<String, Object> service = new java.util.HashMap<>((Map<String, Object>) ((Map<String, Object>) compose().get("services")).get(name));
        Object merged = service.remove("<<");
        if (merged != null) {
            ((Map<String, Object>) merged).forEach(service::putIfAbsent);
        }
        return service;
    }

    @Test
    @SuppressWarnings("unchecked")
    void mountsTheTestedConfigurationAndJar() throws IOException {
        Map<String, String> mounts = new java.util.HashMap<>();
        for (Object v : (List<Object>) flinkService().get("volumes")) {
            String[] parts = v.toString().split(":");
            mounts.put(parts[1], parts[0]);
        }
        Path confDir = COMPOSE.getParent().resolve(mounts.get("/upsert/flink-conf")).normalize();
        assertEquals(REPO.resolve("flink-conf"), confDir, "the configuration directory the cluster test uses");
        assertTrue(Files.isRegularFile(confDir.resolve(GlobalConfiguration.FLINK_CONF_FILENAME)));
        Path jar = COMPOSE.getParent().resolve(mounts.get("/opt/flink/usrlib/upsert-feedback-job.jar")).normalize();
        assertEquals(REPO.resolve("job/target/upsert-feedback-job.jar"), jar, "the job jar the cluster test submits");
        assertTrue(Files.isRegularFile(jar), jar + " is built by the job module");
        for (String role : List.of("jobmanager", "taskmanager")) {
            Map<String, Object> service = service(role);
            assertTrue(service.get("entrypoint").toString().contains("cp /upsert/flink-conf/config.yaml /opt/flink/conf/config.yaml"),
                    role + " uses the mounted config.yaml");
        }
        // Checkpoints and savepoints in a volume that the JobManager and TaskManager share (a TaskManager writes, the JobManager reads).
        Configuration conf = GlobalConfiguration.loadConfiguration(confDir.toString());
        String shared = mounts.entrySet().stream().filter(e -> !e.getValue().startsWith(".")).map(Map.Entry::getKey).findFirst().orElseThrow();
        for (String dir : List.of(conf.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY), conf.get(CheckpointingOptions.SAVEPOINT_DIRECTORY))) {
            assertTrue(dir.startsWith("file://" + shared + "/"), dir + " is in the shared volume " + shared);
        }
        String readme = Files.readString(REPO.resolve("README.md"));
        assertTrue(readme.contains("/opt/flink/usrlib/upsert-feedback-job.jar run"), "the README submits the mounted jar");
    }

    @Test
    void setsOnlyRealOptions() throws Exception {
        Map<String, String> properties = flinkProperties();
        Set<String> known = new HashSet<>(flinkOptionKeys());
        for (Class<?> c : List.of(KafkaIngestOptions.class, UpsertOptions.class, StoreOptions.class, TieredStoreSink.class,
                FeedbackSource.class)) {
            known.addAll(optionKeys(c));
        }
        List<String> unknown = new ArrayList<>();
        for (String key : properties.keySet()) {
            if (!known.contains(key)) {
                unknown.add(key);
            }
        }
        assertTrue(unknown.isEmpty(), "FLINK_PROPERTIES in docker/compose.yaml sets unknown options " + unknown);
        assertTrue(properties.containsKey("kafka.bootstrap-servers") && properties.containsKey("store.long-term.path"));
    }

    @Test
    void createsTheTopicsAndTheBucketTheConfigurationNames() throws IOException {
        Configuration conf = GlobalConfiguration.loadConfiguration(REPO.resolve("flink-conf").toString());
        String compose = Files.readString(COMPOSE);
        for (String topic : List.of(conf.get(KafkaIngestOptions.TOPIC), conf.get(KafkaIngestOptions.DEAD_LETTER_TOPIC))) {
            assertTrue(compose.contains("--create --if-not-exists --topic " + topic + " "), "compose creates topic " + topic);
        }
        Matcher bucket = Pattern.compile("gs://([^/\\s]+)/").matcher(flinkProperties().get("store.long-term.path"));
        assertTrue(bucket.find());
        assertTrue(compose.contains("mkdir -p /data/" + bucket.group(1) + " "), "the GCS emulator creates bucket " + bucket.group(1));
    }

    @Test
    void usesTheFlinkVersionOfTheBuild() throws IOException {
        Matcher version = Pattern.compile("<flink.version>([^<]+)</flink.version>").matcher(Files.readString(REPO.resolve("pom.xml")));
        assertTrue(version.find());
        assertTrue(Files.readString(COMPOSE).contains("image: flink:" + version.group(1) + "-java17"),
                "the Flink image is version " + version.group(1));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> flinkProperties() throws IOException {
        String text = ((Map<String, Object>) flinkService().get("environment")).get("FLINK_PROPERTIES").toString();
        Map<String, String> properties = new java.util.LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                properties.put(line.substring(0, line.indexOf(':')).trim(), line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return properties;
    }

    /** Keys of every ConfigOption in Flink's {@code org.apache.flink.configuration} package (flink-core). */
    private static Set<String> flinkOptionKeys() throws Exception {
        Set<String> keys = new HashSet<>();
        String jar = ConfigOption.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        try (JarFile f = new JarFile(jar)) {
            for (String name : f.stream().map(e -> e.getName()).toList()) {
                if (name.startsWith("org/apache/flink/configuration/") && name.endsWith("Options.class") && !name.contains("$")) {
                    keys.addAll(optionKeys(Class.forName(name.replace('/', '.').replace(".class", ""))));
                }
            }
        }
        return keys;
    }

    private static Set<String> optionKeys(Class<?> c) throws IllegalAccessException {
        Set<String> keys = new HashSet<>();
        for (Field f : c.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == ConfigOption.class) {
                f.setAccessible(true);
                keys.add(((ConfigOption<?>) f.get(null)).key());
            }
        }
        return keys;
    }
}
