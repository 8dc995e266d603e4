package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.StoreOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
        assertFails("--input: " + input + " line 1: \"partition\" is 4, the upsert topic has partitions 0 to 3. Fix:", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString(), "-Dlocal.data-dir=" + tmp.resolve("data"));
        assertFails("--dump-to is a flag of `local`", "run", "--conf-dir", CONF_DIR, "--dump-to", "x");
        assertFails("unknown command 'serve'", "serve");
    }

    /** The bug: a misspelled "value" read as a delete, and the key was silently deleted. */
    @Test
    void anInputLineWithAFieldTheFormatDoesNotHaveFailsNamingIt(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"a\", \"value\": \"v\", \"ts\": 5}\n"
                + "{\"key\": \"a\", \"val\": \"ok\", \"ts\": 6}\n");
        assertFails("--input: " + input + " line 2: unknown field \"val\"", "local", "--conf-dir", CONF_DIR, "--input", input.toString());
        Files.writeString(input, "{\"key\": \"a\", \"ts\": 6}\n");
        assertFails("--input: " + input + " line 1: no \"value\" (a delete is \"value\": null)", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString());
        Files.writeString(input, "{\"key\": \"a\", \"value\": null, \"ts\": \"6\"}\n");
        assertFails("--input: " + input + " line 1: \"ts\" is \"6\", not an integer", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString());
        assertFails("--input: " + tmp.resolve("missing.jsonl") + " is not a file (it does not exist)", "local", "--conf-dir", CONF_DIR,
                "--input", tmp.resolve("missing.jsonl").toString());
    }

    /**
     * The bug (found by a new user's run): text after a line's JSON object was ignored, dropping a
     * second command written on the same line, and of a field given twice the last silently won.
     */
    @Test
    void anInputLineWithTextAfterItsObjectOrAFieldTwiceFailsNamingIt(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"a\", \"value\": \"x\", \"ts\": 5}{\"key\": \"b\"}\n");
        // --exit-when-done: the old code accepted these lines and ran them (it must end, then fail the assertion)
        assertFails("--input: " + input + " line 1: text after the JSON object", "local", "--conf-dir", CONF_DIR, "--input", input.toString(),
                "--exit-when-done");
        Files.writeString(input, "{\"key\": \"a\", \"value\": \"x\", \"ts\": 5}\n{\"key\": \"a\", \"value\": \"x\", \"ts\": 5, \"key\": \"b\"}\n");
        assertFails("--input: " + input + " line 2: a field given twice", "local", "--conf-dir", CONF_DIR, "--input", input.toString(),
                "--exit-when-done");
    }

    @Test
    void anOptionValueThatDoesNotParseFailsAtStartNamingWhatItTakes() {
        assertFails("Option 'upsert.tick' has a value that does not parse", "run", "--conf-dir", CONF_DIR, "-Dupsert.tick=banana");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Main.run(new String[] {"run", "--conf-dir", CONF_DIR, "-Dupsert.tick=banana"}));
        assertTrue(e.getMessage().contains("Fix: give a duration such as '1 s'"), e.getMessage());
        assertFalse(e.getMessage().contains("banana"), "an option's value may be a secret: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Main.run(new String[] {"run", "--conf-dir", CONF_DIR, "-Dingest.value.format=JSONN"}));
        assertTrue(e.getMessage().startsWith("Option 'ingest.value.format' has a value that does not parse"), e.getMessage());
        assertTrue(e.getMessage().contains("Fix: give one of ["), e.getMessage());
        // a new user's finding: Flink's own options failed with Flink's message, without a fix
        assertFails("Option 'rest.port' has a value that does not parse. Fix: give a value of the kind of its default, '8081'",
                "local", "--conf-dir", CONF_DIR, "-Drest.port=abc");
    }

    /** A new user's finding: a bad demo option was accepted silently beside --input. */
    @Test
    void aBadDemoOptionFailsAtStartEvenWithAnInput(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"a\", \"ts\": 5}\n");
        assertFails("Option 'produce.rate' is -5. Fix: set 0 (unthrottled) or more", "local", "--conf-dir", CONF_DIR,
                "-Dproduce.rate=-5", "-Dlocal.data-dir=" + tmp.resolve("data"), "--input", input.toString(), "--exit-when-done");
    }

    /** A new user's finding: a -D without '=' was an "unknown argument" followed by the usage. */
    @Test
    void aDashDWithoutAValueSaysSo() {
        assertFails("'-Dupsert.tick' has no value. Fix: give -Dupsert.tick=<value>", "local", "--conf-dir", CONF_DIR, "-Dupsert.tick");
        assertFails("'-D' has no value. Fix: give -D<option>=<value>", "local", "--conf-dir", CONF_DIR, "-D");
    }

    /** New users' findings: an output path that cannot be written failed after the whole run, its result lost. */
    @Test
    void anOutputFileThatCannotBeWrittenFailsAtStart(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n");
        Path missing = tmp.resolve("no-such-dir").resolve("out.jsonl");
        assertFails("--dump-to: " + missing + ": its directory " + missing.getParent() + " does not exist. Fix:", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "--exit-when-done", "--dump-to", missing.toString());
        assertFails("--changelog-to: " + tmp + " is a directory. Fix:", "local", "--conf-dir", CONF_DIR, "--input", input.toString(),
                "--exit-when-done", "--changelog-to", tmp.toString());
    }

    /**
     * New users' findings: a directory whose permissions allow writing but that takes no new files
     * ({@code /proc}; also root on a read-only mount) passed the check: {@code --changelog-to} then
     * failed the job at every restart, forever, and {@code --dump-to} failed after the whole run;
     * a data directory there failed with a bare {@code NoSuchFileException} and exit 1.
     */
    @Test
    void anOutputOrDataDirectoryThatTakesNoFilesFailsAtStart(@TempDir Path tmp) throws Exception {
        Path proc = Path.of("/proc");
        assumeTrue(Files.isDirectory(proc.resolve("self")), "needs Linux's /proc");
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n");
        assertFails("--changelog-to: /proc/c.jsonl: its directory /proc does not take new files (", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString(), "--exit-when-done", "--changelog-to", "/proc/c.jsonl");
        assertFails("--dump-to: /proc/d.jsonl: its directory /proc does not take new files (", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString(), "--exit-when-done", "--dump-to", "/proc/d.jsonl");
        assertFails("Option 'local.data-dir': /proc/nope cannot be created or written (", "local", "--conf-dir", CONF_DIR,
                "--input", input.toString(), "--exit-when-done", "-Dlocal.data-dir=/proc/nope");
    }

    /** New users' findings: {@code local --help} was an unknown argument; a flag without its path took the next flag as the path. */
    @Test
    void helpAfterTheCommandAndAPathFlagWithoutItsPath() throws Exception {
        assertEquals(0, Main.run(new String[] {"local", "--help"}));
        assertFails("--dump-to needs a path, not the flag '-Dlocal.data-dir=x'. Fix:", "local", "--conf-dir", CONF_DIR, "--dump-to",
                "-Dlocal.data-dir=x");
        assertFails("--input needs a path. Fix:", "local", "--conf-dir", CONF_DIR, "--input");
    }

    /** New users' findings: a line cut short gave Jackson's text (naming line 1, column 1 for line 2); a byte order mark failed line 1. */
    @Test
    void aLineCutShortIsNamedAsSuchAndAByteOrderMarkIsSkipped(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "\uFEFF{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n"
                + "{\"key\": \"k\", \"value\": \"w\", \"ts\n");
        assertFails("--input: " + input + " line 2: the line ends inside its JSON object (cut short?); expected", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString());
        Files.writeString(input, "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}}\n");
        assertFails("--input: " + input + " line 1: not valid JSON at column ", "local", "--conf-dir", CONF_DIR, "--input", input.toString());
    }

    /** A new user's finding: bytes that are not UTF-8 gave "--input: Input length = 1" (no file, no line). */
    @Test
    void anInputLineThatIsNotUtf8IsNamedWithItsByte(@TempDir Path tmp) throws Exception {
        Path input = tmp.resolve("in.jsonl");
        Files.write(input, concat("{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\r\n".getBytes(StandardCharsets.UTF_8),
                new byte[] {'{', '"', 'k', (byte) 0xff}, "ey\": \"k\", \"value\": \"w\", \"ts\": 6}\n".getBytes(StandardCharsets.UTF_8)));
        assertFails("--input: " + input + " line 2: not UTF-8 text (byte 4 of the line is 0xff); the file must be UTF-8", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString());
    }

    /**
     * A new user's finding: a JSON escape of a lone UTF-16 surrogate ({@code "\ud800"}) is valid JSON
     * but no Unicode character; its UTF-8 encoding became {@code "?"}, so the key silently overwrote
     * the real key {@code "?"}. It is refused, naming the line, the field and the fix.
     */
    @Test
    void aLoneSurrogateInAKeyOrValueFailsNamingTheLine(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"?\", \"value\": \"v\", \"ts\": 5}\n"
                + "{\"key\": \"\\ud800\", \"value\": \"w\", \"ts\": 6}\n");
        IOException e = assertThrows(IOException.class, () -> InputFile.read(input));
        assertEquals(input + " line 2: \"key\" holds a lone UTF-16 surrogate (\\ud800), which is no Unicode character; "
                + "give its bytes in base64 as \"key_b64\"", e.getMessage());
        Files.writeString(input, "{\"key\": \"k\", \"value\": \"a\\udc00b\", \"ts\": 5}\n");
        assertFails("--input: " + input + " line 1: \"value\" holds a lone UTF-16 surrogate (\\udc00)", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString());
    }

    /** A new user's finding: an unknown flag such as {@code --dumpto} named no fix, unlike every other bad argument. */
    @Test
    void anUnknownFlagNamesTheFlagItWasLikelyMeantToBe() {
        assertFails("unknown argument '--dumpto'. Fix: did you mean --dump-to?", "local", "--dumpto", "x.out");
        assertFails("unknown argument '--Exit-When'. Fix: did you mean --exit-when-done?", "local", "--Exit-When");
        assertFails("unknown argument '--bogus'. Fix: use a command's flags as below", "local", "--bogus");
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            all.writeBytes(p);
        }
        return all.toByteArray();
    }

    /**
     * New users' findings: these were refused only after the broker, the store and the job had started
     * (and the input was produced): option combinations, an unreadable schema file, sink and source
     * options out of range, a taken web UI port.
     */
    @Test
    void localRefusesBadOptionsBeforeStartingAnything(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n");
        Path data = tmp.resolve("data");
        Exception e = assertThrows(IllegalConfigurationException.class, () -> Main.run(new String[] {"local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "-Dupsert.lead=1 s", "-Dsink.catch-up.max-hold=1 min",
                "-Dlocal.data-dir=" + data}));
        assertTrue(e.getMessage().contains("'sink.catch-up.max-hold' is 1 min but 'upsert.lead' is set"), e.getMessage());
        assertFails("Option 'produce.rate'", "local", "--conf-dir", CONF_DIR, "-Dproduce.rate=-5", "-Dlocal.data-dir=" + data);
        assertFails("Option 'sink.window-size' is 0. Fix: set at least 1", "local", "--conf-dir", CONF_DIR, "--input", input.toString(),
                "-Dsink.window-size=0", "-Dlocal.data-dir=" + data);
        assertFails("Option 'ingest.dead-letter.max-bytes' is 10 bytes", "local", "--conf-dir", CONF_DIR, "--input", input.toString(),
                "-Dingest.dead-letter.max-bytes=10b", "-Dlocal.data-dir=" + data);
        assertFails("Option 'ingest.value.reader-schema' names the unreadable file '" + tmp.resolve("missing.avsc") + "'", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "-Dingest.value.format=AVRO",
                "-Dingest.value.reader-schema=" + tmp.resolve("missing.avsc"), "-Dlocal.data-dir=" + data);
        assertFalse(Files.exists(data), "started before refusing");
        try (ServerSocket taken = new ServerSocket(0)) {
            assertFails("Option 'rest.port': port " + taken.getLocalPort() + " is in use", "local", "--conf-dir", CONF_DIR,
                    "--input", input.toString(), "-Drest.port=" + taken.getLocalPort(), "-Dlocal.data-dir=" + data);
        }
        assertFalse(Files.exists(data.resolve("kafka")), "started the broker before refusing the port");
    }

    /** A new user's finding: --resume with another --input ran, then exited 1 saying records were not read. */
    @Test
    void resumingWithAnotherInputThanTheEarlierRunsFailsAtStart(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Files.createDirectories(data.resolve("kafka"));
        Files.writeString(data.resolve("input-produced"), "2 records from /inputs/first.jsonl sha256 "
                + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
        Path other = Files.writeString(tmp.resolve("other.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n");
        assertFails("--resume: the earlier run produced its input from another file (2 records from /inputs/first.jsonl); --input "
                + other + " differs from it. Fix:", "local", "--conf-dir", CONF_DIR, "--resume", "--input", other.toString(),
                "-Dlocal.data-dir=" + data);
    }

    /**
     * A new user's finding: {@code ./upsert local ... -Dingest.value.reader-schema=entity.avsc}, run from
     * the schema's directory, looked for it in the checkout (where the script runs Java), unlike the
     * paths of flags, which the script made the caller's.
     */
    @Test
    void relativePathsInFlagsAndPathOptionsAreTheCallers(@TempDir Path tmp) throws Exception {
        Files.copy(Path.of("src/test/resources/entity.avsc"), tmp.resolve("entity.avsc"));
        Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}}\n");
        String before = System.getProperty(Main.CALLER_DIR);
        System.setProperty(Main.CALLER_DIR, tmp.toString());
        try {
            // the schema is found (and read: its fields named) where the caller is; the input file too
            assertFails("Option 'ingest.time-field' does not fit the reader schema", "local", "--conf-dir", CONF_DIR,
                    "-Dingest.value.format=AVRO", "-Dingest.value.reader-schema=entity.avsc", "-Dingest.time-field=absent");
            assertFails("--input: " + tmp.resolve("in.jsonl") + " line 1: not valid JSON", "local", "--conf-dir", CONF_DIR,
                    "--input", "in.jsonl");
        } finally {
            if (before == null) {
                System.clearProperty(Main.CALLER_DIR);
            } else {
                System.setProperty(Main.CALLER_DIR, before);
            }
        }
    }

    /** Which option values {@link Main#withLocalPaths} resolves: relative local paths only, in lists and maps too. */
    @Test
    void onlyRelativeLocalPathsOfPathOptionsAreResolved() {
        Path base = Path.of("/home/user/work");
        Configuration resolved = Configuration.fromMap(Main.withLocalPaths(Map.of(
                "ingest.value.reader-schema", "entity.avsc",
                "ingest.value.writer-schemas", "v1.avsc;/schemas/v2.avsc",
                "ingest.value.confluent-schemas", "1:s/v1.avsc,2:/schemas/v2.avsc",
                "store.long-term.path", "gs://bucket/prefix",
                "local.data-dir", "../data",
                "upsert.tick", "1 s"), base));
        assertEquals("/home/user/work/entity.avsc", resolved.get(KafkaIngestOptions.READER_SCHEMA));
        assertEquals(List.of("/home/user/work/v1.avsc", "/schemas/v2.avsc"), resolved.get(KafkaIngestOptions.WRITER_SCHEMAS));
        assertEquals(Map.of("1", "/home/user/work/s/v1.avsc", "2", "/schemas/v2.avsc"), resolved.get(KafkaIngestOptions.CONFLUENT_SCHEMAS));
        assertEquals("gs://bucket/prefix", resolved.get(StoreOptions.LONG_TERM_PATH));
        assertEquals("/home/user/data", resolved.get(JobOptions.LOCAL_DATA_DIR));
        assertEquals("1 s", resolved.toMap().get("upsert.tick"));
        assertEquals("/home/user/work/long-term", Main.localPath(base, "long-term"));
        assertEquals("file:/srv/long-term", Main.localPath(base, "file:/srv/long-term"));
        assertEquals("", Main.localPath(base, ""));
    }

    /** A new user's finding: a dump written to the changelog's path, or to the input file, silently replaced it. */
    @Test
    void anOutputNamingTheInputOrAnotherOutputFailsAtStart(@TempDir Path tmp) throws Exception {
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"key\": \"k\", \"value\": \"v\", \"ts\": 5}\n");
        Path out = tmp.resolve("out.jsonl");
        assertFails("--dump-to and --changelog-to name the same file " + out + ": one would write over the other. Fix:", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "--exit-when-done", "--dump-to", out.toString(),
                "--changelog-to", tmp + "/./out.jsonl");
        assertFails("--input and --dump-to name the same file " + input + ": the run would write over its input. Fix:", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "--exit-when-done", "--dump-to", input.toString());
        Path link = Files.createSymbolicLink(tmp.resolve("link.jsonl"), input);
        assertFails("--input and --dead-letters-to name the same file " + link + ": the run would write over its input. Fix:", "local",
                "--conf-dir", CONF_DIR, "--input", input.toString(), "--exit-when-done", "--dead-letters-to", link.toString());
    }

    /** A new user's finding: of two {@code --input} flags (or two {@code -D} of one option) the last one silently won. */
    @Test
    void aFlagGivenTwiceFailsAtStart(@TempDir Path tmp) throws Exception {
        Path a = Files.writeString(tmp.resolve("a.jsonl"), "{\"key\": \"k\", \"value\": \"a\", \"ts\": 5}\n");
        Path b = Files.writeString(tmp.resolve("b.jsonl"), "{\"key\": \"k\", \"value\": \"b\", \"ts\": 5}\n");
        assertFails("--input is given twice: only one of them would count. Fix: give --input once", "local",
                "--conf-dir", CONF_DIR, "--input", a.toString(), "--input", b.toString(), "--exit-when-done");
        assertFails("--exit-when-done is given twice: only one of them would count. Fix: give --exit-when-done once", "local",
                "--conf-dir", CONF_DIR, "--input", a.toString(), "--exit-when-done", "--exit-when-done");
        // a new user's finding: the last -D of an option silently won
        assertFails("-Dlocal.data-dir is given twice: only one of them would count. Fix: give -Dlocal.data-dir once", "local",
                "--conf-dir", CONF_DIR, "-Dlocal.data-dir=" + tmp.resolve("d1"), "-Dlocal.data-dir=" + tmp.resolve("d2"),
                "--input", a.toString(), "--exit-when-done");
    }

    /** A new user's finding: {@code produce} to an unreachable broker printed "sent" lines, then a bare stack trace after 60 s. */
    @Test
    void produceToAnUnreachableBrokerFailsNamingIt() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        StartupCheck.Failure e = assertThrows(StartupCheck.Failure.class, () -> Main.run(new String[] {"produce", "--conf-dir", CONF_DIR,
                "-Dkafka.bootstrap-servers=localhost:" + closed}));
        assertTrue(e.getMessage().startsWith("cannot reach the Kafka brokers at localhost:" + closed + " (option 'kafka.bootstrap-servers')"),
                e.getMessage());
    }

    @Test
    void localWithNoPartitionsFailsNamingTheOption() {
        assertFails("Option 'local.partitions' is 0. Fix: set at least 1", "local", "--conf-dir", CONF_DIR, "-Dlocal.partitions=0");
    }

    private static void assertFails(String messageStart, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(args));
        assertTrue(e.getMessage().startsWith(messageStart), e.getMessage());
    }
}
