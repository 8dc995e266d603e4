package io.upsertfeedback.bench.kafka;

import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.TimestampedKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The Kafka Streams peer: the topic read as a KTable whose changes go downstream with their old
 * values, i.e. what {@code KTableSource} does with sending old values enabled, written with the
 * Processor API because the DSL only enables old values internally (for aggregations). A
 * timestamped RocksDB key-value store, record cache off (a cache would merge updates to one key and
 * so do less work than the others), its changelog topic off or on. One stream thread per partition.
 *
 * <p>Kafka Streams never ends on its own: the main thread polls the input count and closes the
 * application once every record was processed; {@code close()} lets the record in flight finish.
 *
 * <p>Usage: {@code --bootstrap=host:port --topic=t --records=N --parallelism=2 --changelog=false}
 */
public final class KafkaStreamsContender {
    // Processor instances of every task (a task moving between threads during start-up leaves its old
    // instances here too: their counts add up, as the moved task resumes from the offsets committed on revocation).
    private static final Queue<Upsert> UPSERTS = new ConcurrentLinkedQueue<>();
    private static final Queue<Count> COUNTS = new ConcurrentLinkedQueue<>();

    public static void main(String[] args) throws Exception {
        run(Workload.parseArgs(args)).print();
    }

    /** Runs the application over {@code --records} records and reports its counts (once per JVM). */
    static Report run(Map<String, String> options) throws Exception {
        Report report = Report.sampling();
        boolean changelog = Boolean.parseBoolean(options.getOrDefault("changelog", "false"));
        long records = Long.parseLong(options.get("records"));
        Path stateDir = Files.createTempDirectory("bench-kstreams");

        Topology topology = new Topology()
                .addSource("commands", new ByteArrayDeserializer(), new ByteArrayDeserializer(), options.get("topic"))
                .addProcessor("ktable", Upsert::new, "commands")
                .addProcessor("count", Count::new, "ktable");
        var store = Stores.timestampedKeyValueStoreBuilder(Stores.persistentTimestampedKeyValueStore("table"),
                Serdes.Bytes(), Serdes.ByteArray()).withCachingDisabled();
        topology.addStateStore(changelog ? store.withLoggingEnabled(Map.of()) : store.withLoggingDisabled(), "ktable");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "bench-kstreams-" + changelog + "-" + System.nanoTime());
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, options.get("bootstrap"));
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.getOrDefault("parallelism", "2"));
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put("auto.offset.reset", "earliest");

        KafkaStreams streams = new KafkaStreams(topology, props);
        long start = System.nanoTime();
        streams.start();
        long deadline = start + TimeUnit.MINUTES.toNanos(Long.parseLong(options.getOrDefault("timeout-minutes", "10")));
        while (UPSERTS.stream().mapToLong(t -> t.inputs).sum() < records) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                throw new IllegalStateException("Kafka Streams did not process " + records + " records: " + streams.state());
            }
            Thread.sleep(5);
        }
        streams.close(Duration.ofMinutes(1));
        streams.cleanUp();

        long first = UPSERTS.stream().mapToLong(t -> t.firstNanos).min().orElseThrow();
        long last = UPSERTS.stream().mapToLong(t -> t.lastNanos).max().orElseThrow();
        report.put("contender", changelog ? "kstreams-changelog-on" : "kstreams-changelog-off")
                .put("records", UPSERTS.stream().mapToLong(t -> t.inputs).sum())
                .put("updates", COUNTS.stream().mapToLong(c -> c.updates).sum())
                .put("live", COUNTS.stream().mapToLong(c -> c.live).sum())
                .put("elapsedMs", TimeUnit.NANOSECONDS.toMillis(last - start))
                .put("steadyMs", TimeUnit.NANOSECONDS.toMillis(last - first));
        return report;
    }

    /** A change of one key: its value before and after ({@code null}: absent). */
    record Change(byte[] oldValue, byte[] newValue) {
    }

    /** KTableSource with old values: read the old value, write or delete, forward (old, new). */
    static final class Upsert implements Processor<byte[], byte[], Bytes, Change> {
        private ProcessorContext<Bytes, Change> context;
        private TimestampedKeyValueStore<Bytes, byte[]> store;
        private volatile long inputs;
        private long firstNanos = Long.MAX_VALUE;
        private long lastNanos;

        @Override
        public void init(ProcessorContext<Bytes, Change> context) {
            this.context = context;
            this.store = context.getStateStore("table");
            UPSERTS.add(this);
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            if (inputs == 0) {
                firstNanos = System.nanoTime();
            }
            Bytes key = Bytes.wrap(record.key());
            ValueAndTimestamp<byte[]> old = store.get(key);
            byte[] oldValue = old == null ? null : old.value();
            if (record.value() == null) {
                if (old != null) {
                    store.delete(key);
                }
            } else {
                store.put(key, ValueAndTimestamp.make(record.value(), record.timestamp()));
            }
            if (oldValue != null || record.value() != null) {
                context.forward(record.withKey(key).withValue(new Change(oldValue, record.value())));
            }
            lastNanos = System.nanoTime();
            inputs++;
        }
    }

    /** The discarding sink: counts updates (a retraction per old value, an insert per new one) and live keys. */
    static final class Count implements Processor<Bytes, Change, Void, Void> {
        private long updates;
        private long live;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            COUNTS.add(this);
        }

        @Override
        public void process(Record<Bytes, Change> record) {
            Change change = record.value();
            if (change.oldValue() != null) {
                updates++;
                live--;
            }
            if (change.newValue() != null) {
                updates++;
                live++;
            }
        }
    }
}
