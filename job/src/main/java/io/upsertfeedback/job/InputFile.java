package io.upsertfeedback.job;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * The input of {@code local --input FILE}: JSON lines {@code {"key": "k1", "value": "text" | null,
 * "ts": 1700000000000}}, optionally with {@code "partition": n} (else Kafka's default partitioner
 * hashes the key). Blank lines are skipped; a malformed line fails with its line number.
 */
record InputFile(List<Line> lines) {
    /** One input command. */
    record Line(String key, String value, long ts, Integer partition) {
    }

    static InputFile read(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Line> lines = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int number = 0;
            for (String text = in.readLine(); text != null; text = in.readLine()) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                try {
                    JsonNode node = json.readTree(text);
                    JsonNode key = node.get("key");
                    JsonNode value = node.get("value");
                    JsonNode ts = node.get("ts");
                    JsonNode partition = node.get("partition");
                    if (key == null || !key.isTextual() || ts == null || !ts.canConvertToLong()
                            || (value != null && !value.isNull() && !value.isTextual())
                            || (partition != null && !partition.canConvertToInt())) {
                        throw new IOException("expected {\"key\": string, \"value\": string|null, \"ts\": long[, \"partition\": int]}");
                    }
                    lines.add(new Line(key.asText(), value == null || value.isNull() ? null : value.asText(), ts.asLong(),
                            partition == null ? null : partition.asInt()));
                } catch (IOException e) {
                    throw new IOException(file + " line " + number + ": " + e.getMessage(), e);
                }
            }
        }
        return new InputFile(lines);
    }

    /** Produces every line in file order (one idempotent producer keeps the order per partition) and waits for the acks. */
    void produce(Producer<byte[], byte[]> producer, String topic) throws ExecutionException, InterruptedException {
        List<Future<RecordMetadata>> acks = new ArrayList<>(lines.size());
        for (Line line : lines) {
            acks.add(producer.send(new ProducerRecord<>(topic, line.partition(), line.ts(),
                    line.key().getBytes(StandardCharsets.UTF_8),
                    line.value() == null ? null : line.value().getBytes(StandardCharsets.UTF_8))));
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
