package io.upsertfeedback.job;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong or missing options and flags fail at start, naming what to fix. */
class MainTest {
    private static final String CONF_DIR = Path.of("").toAbsolutePath().getParent().resolve("flink-conf").toString();

    @Test
    void unknownOptionInOurNamespacesFails() {
        assertFails("unknown option(s) [kafka.topc]", "run", "--conf-dir", CONF_DIR, "-Dkafka.topc=x");
    }

    @Test
    void missingConfigurationDirectoryFails(@TempDir Path empty) {
        assertFails("no config.yaml in configuration directory", "run", "--conf-dir", empty.toString());
    }

    @Test
    void runWithoutStoreNamesTheStoreOption() {
        assertFails("store.", "run", "--conf-dir", CONF_DIR, "-Dkafka.bootstrap-servers=localhost:1");
    }

    @Test
    void produceValidatesItsOptionsBeforeConnecting() {
        assertFails("Option 'kafka.bootstrap-servers' is missing", "produce", "--conf-dir", CONF_DIR);
        assertFails("Option 'produce.delete-fraction' is 2.0. Fix:", "produce", "--conf-dir", CONF_DIR,
                "-Dkafka.bootstrap-servers=localhost:1", "-Dproduce.delete-fraction=2");
    }

    @Test
    void localFlagsMustFitTogether(@TempDir Path tmp) throws Exception {
        assertFails("--exit-when-done needs --input", "local", "--conf-dir", CONF_DIR, "--exit-when-done");
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": 1, \"ts\": 5}\n");
        assertFails("--input: " + input + " line 1: \"value\" is not a string", "local", "--conf-dir", CONF_DIR, "--input", input.toString());
        Files.writeString(input, "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5, \"partition\": 4}\n");
        assertFails("--input: line 1: \"partition\" is 4, the upsert topic has partitions 0 to 3. Fix:", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString(), "-Dlocal.data-dir=" + tmp.resolve("data"));
        assertFails("--dump-to is a flag of `local`", "run", "--conf-dir", CONF_DIR, "--dump-to", "x");
        assertFails("unknown command 'serve'", "serve");
    }

    private static void assertFails(String messageStart, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(args));
        assertTrue(e.getMessage().startsWith(messageStart), e.getMessage());
    }
}
