package io.upsertfeedback.job;

import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoredEntry;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.Writer;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code local --dump-to OUT}: the store's live contents as JSON lines, one per key, sorted by the
 * key's bytes (unsigned): {@code {"key": "k1", "value": "text", "time": 1700000000000}}, bytes as
 * {@link JsonBytes} ({@code key_b64}/{@code value_b64} when not UTF-8). An error value (SPEC
 * section 2) also has {@code "error"} (why it did not decode) and the {@code "topic"},
 * {@code "partition"} and {@code "offset"} of the record it came from; its value is the raw bytes.
 */
final class StoreDump {
    private StoreDump() {
    }

    /** Writes the lines of {@code store}'s live keys ({@code errorsOnly}: of those holding an error value) to {@code out}; returns how many. */
    static int write(StoreHandle store, String topic, boolean errorsOnly, Writer out) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<byte[], ObjectNode> lines = new TreeMap<>(Arrays::compareUnsigned);
        try (CloseableIterator<StoredEntry> entries = store.store().scan(null)) {
            while (entries.hasNext()) {
                StoredEntry e = entries.next();
                if (errorsOnly && !e.value().isError()) {
                    continue;
                }
                ObjectNode line = json.createObjectNode();
                JsonBytes.put(line, "key", e.key());
                JsonBytes.put(line, "value", e.value().bytes());
                line.put("time", e.meta().getTime());
                if (e.value().isError()) {
                    line.put("error", e.value().error());
                    line.put("topic", topic);
                    line.put("partition", e.meta().getPartition());
                    line.put("offset", e.meta().getOffset());
                }
                lines.put(e.key(), line);
            }
        }
        for (ObjectNode line : lines.values()) {
            out.write(json.writeValueAsString(line));
            out.write('\n');
        }
        out.flush();
        return lines.size();
    }
}
