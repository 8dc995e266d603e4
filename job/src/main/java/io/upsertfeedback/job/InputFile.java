package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.UpsertCommandDeserializer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParseException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.MissingNode;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * The input of {@code local --input FILE}: JSON lines {@code {"key": "k1", "value": "text" | null,
 * "ts": 1700000000000}}, optionally with {@code "partition": n} (else Kafka's default partitioner
 * hashes the key); {@code "key_b64"} / {@code "value_b64"} give binary keys and values in base64
 * instead ({@link JsonBytes}). {@code ts} is the Kafka record timestamp in epoch milliseconds, from
 * 0 to {@value #MAX_TS} (the end of year 9999). Blank lines are skipped; a malformed line fails with
 * its line number, the problem and the fix; so does a field the format does not have (a
 * misspelled {@code "value"} must not read as a delete) or a missing {@code "value"} (a delete is
 * {@code "value": null}).
 */
record InputFile(Path file, List<Line> lines, String sha256) {
    /** Largest accepted {@code ts}: the latest usable time, 9999-12-31T23:59:59.999Z. */
    static final long MAX_TS = UpsertCommandDeserializer.MAX_TIME;

    /** The fields a line may have. */
    private static final Set<String> FIELDS = Set.of("key", "key_b64", "value", "value_b64", "ts", "partition");

    private static final String SHAPE = "{\"key\": string, \"value\": string|null, \"ts\": epoch millis[, \"partition\": int]}"
            + " (or \"key_b64\"/\"value_b64\" with base64)";

    /** One input command (line {@code number} of the file); {@code value == null} deletes. */
    record Line(int number, byte[] key, byte[] value, long ts, Integer partition) {
    }

    static InputFile read(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Line> lines = new ArrayList<>();
        MessageDigest digest = newSha256();
        try (InputStream in = new BufferedInputStream(new DigestInputStream(Files.newInputStream(file), digest))) {
            int number = 0;
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder(); // reports malformed input (the default)
            for (byte[] bytes = readLine(in, raw); bytes != null; bytes = readLine(in, raw)) {
                number++;
                String text = utf8(decoder, bytes, file, number);
                if (number == 1 && text.startsWith("\uFEFF")) {
                    text = text.substring(1); // a byte order mark some editors write
                }
                if (text.isBlank()) {
                    continue;
                }
                try {
                    lines.add(line(number, parse(json, text)));
                } catch (IOException | IllegalArgumentException e) {
                    throw new IOException(file + " line " + number + ": " + e.getMessage(), e);
                }
            }
        }
        return new InputFile(file, lines, HexFormat.of().formatHex(digest.digest()));
    }

    /**
     * The next line's bytes, without its {@code \n} or {@code \r\n} ({@code raw} is the reused
     * buffer); {@code null} at the end of the file when no line is left.
     */
    private static byte[] readLine(InputStream in, ByteArrayOutputStream raw) throws IOException {
        raw.reset();
        int b = in.read();
        if (b == -1) {
            return null;
        }
        while (b != -1 && b != '\n') {
            raw.write(b);
            b = in.read();
        }
        byte[] bytes = raw.toByteArray();
        return bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? Arrays.copyOf(bytes, bytes.length - 1) : bytes;
    }

    /** One line's text, decoded with the file's {@code decoder}; bytes that are not UTF-8 name the line and the byte. */
    private static String utf8(CharsetDecoder decoder, byte[] bytes, Path file, int number) throws IOException {
        decoder.reset();
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            throw new IOException(file + " line " + number + ": not UTF-8 text (byte " + (in.position() + 1) + " of the line is 0x"
                    + HexFormat.of().toHexDigits(bytes[in.position()]) + "); the file must be UTF-8");
        }
        return out.flip().toString();
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /**
     * One line's JSON object, strictly: text after the object (a second command on the line was
     * dropped) and a field given twice (the last silently won) are errors.
     */
    private static JsonNode parse(ObjectMapper json, String text) throws IOException {
        try (JsonParser parser = json.getFactory().createParser(text)) {
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            JsonNode node = json.readTree(parser);
            if (node == null) {
                return MissingNode.getInstance(); // no value at all: line() says it is not an object
            }
            if (parser.nextToken() != null) {
                throw new IOException("text after the JSON object (one command per line); expected " + SHAPE);
            }
            return node;
        } catch (JsonParseException e) {
            String problem = e.getOriginalMessage();
            if (problem.startsWith("Duplicate field")) {
                throw new IOException("a field given twice (" + problem + "); expected " + SHAPE, e);
            }
            if (problem.startsWith("Unexpected end-of-input")) {
                throw new IOException("the line ends inside its JSON object (cut short?); expected " + SHAPE, e);
            }
            // without Jackson's location text: it parses one line at a time, so it names line 1 for every line
            int location = problem.indexOf(" (", problem.indexOf(':') + 1);
            throw new IOException("not valid JSON at column " + e.getLocation().getColumnNr() + " ("
                    + (location < 0 ? problem : problem.substring(0, location)).replace('\n', ' ') + "); expected " + SHAPE, e);
        }
    }

    private static Line line(int number, JsonNode node) throws IOException {
        if (!node.isObject()) {
            throw new IOException("not a JSON object; expected " + SHAPE);
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new IOException("unknown field \"" + name + "\" (a misspelled \"value\" would otherwise read as a delete); expected " + SHAPE);
            }
        }
        if (!JsonBytes.has(node, "key")) {
            throw new IOException("no \"key\"; expected " + SHAPE);
        }
        if (!JsonBytes.has(node, "value")) {
            throw new IOException("no \"value\" (a delete is \"value\": null); expected " + SHAPE);
        }
        JsonNode ts = node.get("ts");
        if (ts == null || !ts.isIntegralNumber() || !ts.canConvertToLong()) {
            throw new IOException((ts == null ? "no \"ts\"" : "\"ts\" is " + ts + ", not an integer") + "; expected " + SHAPE);
        }
        JsonNode partition = node.get("partition");
        if (partition != null && (!partition.isIntegralNumber() || !partition.canConvertToInt() || partition.asInt() < 0)) {
            throw new IOException("\"partition\" is " + partition + ", not a partition number (0, 1, ...); expected " + SHAPE);
        }
        byte[] key = JsonBytes.get(node, "key");
        if (key == null) {
            throw new IOException("\"key\" is null; expected " + SHAPE);
        }
        long time = ts.asLong();
        if (time < 0 || time > MAX_TS) {
            throw new IOException("\"ts\" is " + time + ", outside the record timestamps Kafka takes here (epoch milliseconds "
                    + "from 0 to " + MAX_TS + ", e.g. 1700000000000 for 2023-11-14)");
        }
        return new Line(number, key, JsonBytes.get(node, "value"), time, partition == null ? null : partition.asInt());
    }

    /** Fails naming the first line whose {@code "partition"} the topic does not have. */
    void checkPartitions(int partitions) {
        for (Line line : lines) {
            if (line.partition() != null && line.partition() >= partitions) {
                throw new IllegalArgumentException("--input: " + file + " line " + line.number() + ": \"partition\" is " + line.partition()
                        + ", the upsert topic has partitions 0 to " + (partitions - 1) + ". Fix: pick one of them, or "
                        + "create more with -D" + JobOptions.LOCAL_PARTITIONS.key() + "=" + (line.partition() + 1));
            }
        }
    }

    /** Produces every line in file order (one idempotent producer keeps the order per partition) and waits for the acks. */
    void produce(Producer<byte[], byte[]> producer, String topic) throws ExecutionException, InterruptedException {
        List<Future<RecordMetadata>> acks = new ArrayList<>(lines.size());
        for (Line line : lines) {
            acks.add(producer.send(new ProducerRecord<>(topic, line.partition(), line.ts(), line.key(), line.value())));
        }
        producer.flush();
        for (Future<RecordMetadata> ack : acks) {
            ack.get();
        }
    }

    /** The largest input time, or {@link Long#MIN_VALUE} for an empty file. */
    long maxTs() {
        return lines.stream().mapToLong(Line::ts).max().orElse(Long.MIN_VALUE);
    }
}
