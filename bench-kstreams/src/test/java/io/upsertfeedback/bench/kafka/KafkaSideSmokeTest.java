package io.upsertfeedback.bench.kafka;

import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The smoke run of the benchmark harness in {@code mvn verify}: a tiny workload end to end, a few seconds. */
class KafkaSideSmokeTest {

    @Test
    void expectedCountsMatchAKeyValueModel() {
        Workload workload = Workload.defaults("t").with(Map.of("keys", "50", "commands", "2000", "delete-fraction", "0.3"));
        Map<String, byte[]> table = new HashMap<>();
        long updates = 0;
        Workload.Generator g = workload.generator();
        for (int i = 0; i < workload.commands(); i++) {
            g.next();
            byte[] value = g.value(i);
            byte[] old = value == null ? table.remove(new String(g.key(), StandardCharsets.UTF_8))
                    : table.put(new String(g.key(), StandardCharsets.UTF_8), value);
            assertTrue(old == null || !Arrays.equals(old, value), "values are distinct");
            updates += (old == null ? 0 : 1) + (value == null ? 0 : 1);
            if (value != null) {
                assertEquals(100, value.length);
                assertEquals(i, Workload.sendMillis(value));
            }
        }
        Workload.Expected expected = workload.expected();
        assertEquals(updates, expected.updates());
        assertEquals(table.size(), expected.liveKeys());
        Workload.Generator snapshot = Workload.snapshot("s", 50, 10, 1).generator();
        for (int i = 0; i <= 7; i++) {
            snapshot.next();
        }
        assertEquals("k07", new String(snapshot.key(), StandardCharsets.UTF_8));
    }

    @Test
    void expectedCountsPerTickKeepOnlyTheLastCommandOfAKeyInATick() {
        Workload workload = Workload.defaults("t").with(Map.of("keys", "20", "commands", "3000", "delete-fraction", "0.3"));
        Map<String, Boolean> live = new HashMap<>();
        Map<String, Boolean> lastInTick = new HashMap<>();
        long updates = 0;
        Workload.Generator g = workload.generator();
        for (int i = 0; i < workload.commands(); i++) {
            g.next();
            lastInTick.put(new String(g.key(), StandardCharsets.UTF_8), !g.delete());
            if ((i + 1) % 1000 == 0) {
                for (Map.Entry<String, Boolean> e : lastInTick.entrySet()) {
                    boolean was = live.getOrDefault(e.getKey(), false);
                    updates += (was ? 1 : 0) + (e.getValue() ? 1 : 0);
                    live.put(e.getKey(), e.getValue());
                }
                lastInTick.clear();
            }
        }
        Workload.Expected expected = workload.expected(1000);
        assertEquals(updates, expected.updates());
        assertEquals(live.values().stream().filter(v -> v).count(), expected.liveKeys());
    }

    @Test
    void collectionAndRowWritesMatchAKeyValueModelWhateverTheTimeSpread() {
        Workload base = Workload.defaults("t").with(Map.of("keys", "20", "commands", "3000", "delete-fraction", "0.3"));
        long first = 1_700_000_000_000L;
        for (long span : new long[] {0, 1500, 86_400_000}) {
            Workload workload = base.spreadOver("t-" + span, span);
            Map<String, byte[]> table = new TreeMap<>();
            Map<String, byte[]> pending = new TreeMap<>(); // the last command of each key in the current tick; null: delete
            long tick = 0;
            long updates = 0;
            long rowWrites = 0;
            Workload.Generator g = workload.generator();
            for (int i = 0; i <= workload.commands(); i++) {
                long time = i < workload.commands() ? first + workload.timeOffset(i) : Long.MAX_VALUE;
                assertTrue(i == workload.commands() || (span == 0 ? time == first : time >= first && time < first + span));
                if (time / 1000 != tick) {
                    for (Map.Entry<String, byte[]> e : pending.entrySet()) {
                        byte[] old = e.getValue() == null ? table.remove(e.getKey()) : table.put(e.getKey(), e.getValue());
                        updates += (old == null ? 0 : 1) + (e.getValue() == null ? 0 : 1);
                        rowWrites += old != null || e.getValue() != null ? 1 : 0;
                    }
                    pending.clear();
                    tick = time / 1000;
                }
                if (i < workload.commands()) {
                    g.next();
                    pending.put(new String(g.key(), StandardCharsets.UTF_8), g.value(time));
                }
            }
            Workload.Expected expected = workload.expected(1000);
            assertEquals(updates, expected.updates(), "span " + span);
            assertEquals(rowWrites, expected.rowWrites(), "span " + span);
            assertEquals(table.size(), expected.liveKeys(), "span " + span);

            CollectionDigest model = new CollectionDigest();
            table.forEach((k, v) -> model.add(k.getBytes(StandardCharsets.UTF_8), v));
            CollectionDigest digest = workload.digest(first);
            assertEquals(model.entries(), digest.entries());
            assertEquals(model.hash(), digest.hash(), "span " + span);
            Map.Entry<String, byte[]> changed = table.entrySet().iterator().next();
            CollectionDigest wrong = new CollectionDigest();
            table.forEach((k, v) -> wrong.add(k.getBytes(StandardCharsets.UTF_8), k.equals(changed.getKey()) ? g.value(first) : v));
            assertNotEquals(model.hash(), wrong.hash(), "a changed value changes the digest");
        }
    }

    @Test
    void kafkaStreamsContenderCountsEveryUpdateOfALoadedTopic() throws Exception {
        Workload workload = Workload.defaults("smoke").with(Map.of("keys", "300", "commands", "3000"));
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            Workload.Expected expected = Loader.load(kafka.bootstrapServers(), workload).expected();
            Map<String, String> result = KafkaStreamsContender.run(Map.of("bootstrap", kafka.bootstrapServers(),
                    "topic", workload.topic(), "records", "3000", "parallelism", "2", "changelog", "false")).fields();
            assertEquals(String.valueOf(expected.updates()), result.get("updates"));
            assertEquals(String.valueOf(expected.liveKeys()), result.get("live"));
            assertEquals("3000", result.get("records"));
        }
    }
}
