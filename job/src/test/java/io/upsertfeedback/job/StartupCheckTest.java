package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An endpoint that cannot be used at start ends {@code run} with one first line naming the
 * endpoint, the option, what failed and the fix (it was the client's 85-line exception chain), and
 * no secret given as an option appears anywhere in the output. Run as a separate process, as a
 * user would, so the whole output (logs included) is checked.
 */
class StartupCheckTest {
    private static final Path REPO = Path.of("").toAbsolutePath().getParent();
    private static final String TRUSTSTORE_SECRET = "TrustStoreSecret-4d1e";
    private static final String JAAS_SECRET = "JaasSecret-93b7";

    @Test
    void unreachableKafkaIsOneLineAndSecretsStayOut(@TempDir Path tmp) throws Exception {
        try (EmbeddedBigtable bigtable = EmbeddedBigtable.start()) {
            bigtable.createTable("t");
            Result r = run(tmp, "-Dstore.bigtable.emulator-host=" + bigtable.endpoint(), "-Dstore.bigtable.table=t",
                    "-Dstore.long-term.path=" + tmp.resolve("long-term"),
                    "-Dkafka.bootstrap-servers=localhost:1",
                    "-Dkafka.properties.security.protocol=SASL_PLAINTEXT", "-Dkafka.properties.sasl.mechanism=PLAIN",
                    "-Dkafka.properties.ssl.truststore.password=" + TRUSTSTORE_SECRET,
                    "-Dkafka.properties.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
                            + "username=\"u\" password=\"" + JAAS_SECRET + "\";");
            assertEquals(1, r.code, r.output);
            assertTrue(r.firstError.startsWith("upsert: cannot reach the Kafka brokers at localhost:1 (option 'kafka.bootstrap-servers'): ")
                    && r.firstError.contains(". Fix: "), r.output);
            assertFalse(r.output.contains(TRUSTSTORE_SECRET) || r.output.contains(JAAS_SECRET), "a secret is in the output:\n" + r.output);
        }
    }

    @Test
    void unreachableBigtableIsOneLine(@TempDir Path tmp) throws Exception {
        Result r = run(tmp, "-Dstore.bigtable.emulator-host=localhost:1", "-Dstore.long-term.path=" + tmp.resolve("long-term"),
                "-Dstore.retry.max-attempts=1", "-Dkafka.bootstrap-servers=localhost:1");
        assertEquals(1, r.code, r.output);
        assertTrue(r.firstError.startsWith("upsert: cannot open the store: the Bigtable emulator at localhost:1 "
                + "(option 'store.bigtable.emulator-host')") && r.firstError.contains(". Fix: "), r.output);
    }

    private record Result(int code, String firstError, String output) {
    }

    /** {@code Main run} in a child process; stderr's first line that starts with "upsert:" and the whole output. */
    private static Result run(Path tmp, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
                "--add-opens", "java.base/java.util=ALL-UNNAMED",
                "-Dlog4j2.configurationFile=" + REPO.resolve("flink-conf/log4j-console.properties"),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--conf-dir", REPO.resolve("flink-conf").toString()));
        command.addAll(List.of(options));
        Path out = tmp.resolve("out.txt");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectErrorStream(true).start();
        boolean exited = p.waitFor(180, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        String output = Files.readString(out);
        assertTrue(exited, "did not exit within 180 s:\n" + output);
        String first = output.lines().filter(l -> l.startsWith("upsert:")).findFirst().orElse("(no line starting with 'upsert:')");
        return new Result(p.exitValue(), first, output);
    }
}
