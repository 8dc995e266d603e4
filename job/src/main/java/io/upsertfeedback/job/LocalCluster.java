package io.upsertfeedback.job;

import io.upsertfeedback.connectors.embedded.EmbeddedBigtable;
import io.upsertfeedback.connectors.embedded.EmbeddedKafka;
import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreOptions;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What {@code local} runs besides Flink, all under {@code local.data-dir}: a real KRaft broker
 * ({@link EmbeddedKafka}, data in {@code kafka/}) with the upsert topic (compacted) and the
 * dead-letter topic, the bundled Bigtable emulator ({@link EmbeddedBigtable}) and the long-term
 * tier's directory ({@code long-term/}).
 *
 * <p><b>Fresh or resumed.</b> A fresh start wipes the directory (stopping an emulator an earlier
 * run left behind). {@code --resume} keeps it: the broker comes back with its records; the store
 * comes back if the earlier run's emulator still runs (a JVM killed with SIGKILL leaves it running,
 * with its data, recorded in {@code bigtable-emulator}), and otherwise is rebuilt from the topic by
 * a new emulator with an empty long-term directory.
 *
 * <p><b>One run per directory.</b> A run holds an exclusive lock on {@code lock} in the directory
 * until it closes (the operating system releases it when the process dies, even by SIGKILL), so a
 * second run on the same directory, fresh or resumed, is refused instead of wiping the first one's
 * data or starting a second broker on its log directory.
 */
final class LocalCluster implements AutoCloseable {
    /** In the data directory: the process id and port of the run's Bigtable emulator. */
    private static final String EMULATOR_FILE = "bigtable-emulator";
    /** In the data directory: locked by the run using it; holds its process id. */
    private static final String LOCK_FILE = "lock";

    final EmbeddedKafka kafka;
    final EmbeddedBigtable bigtable;
    /** Whether the store is the earlier run's (its emulator outlived it). */
    final boolean earlierStore;
    private final Path dataDir;

    private LocalCluster(EmbeddedKafka kafka, EmbeddedBigtable bigtable, boolean earlierStore, Path dataDir) {
        this.kafka = kafka;
        this.bigtable = bigtable;
        this.earlierStore = earlierStore;
        this.dataDir = dataDir;
    }

    /**
     * Starts the broker (with {@code partitions} partitions of {@code kafka.topic}) and the store in
     * {@code dataDir}, fresh or resumed, saying which on standard output. The caller holds the
     * directory's {@link #lock}.
     */
    static LocalCluster start(Configuration conf, Path dataDir, boolean resume) throws Exception {
        Optional<EmbeddedBigtable> earlier = earlierEmulator(dataDir);
        if (!resume) {
            earlier.ifPresent(EmbeddedBigtable::close);
            earlier = Optional.empty();
            deleteContents(dataDir);
        }
        EmbeddedKafka kafka = EmbeddedKafka.startKeeping(dataDir.resolve("kafka"));
        try {
            kafka.createUpsertTopic(conf.get(KafkaIngestOptions.TOPIC), conf.get(JobOptions.LOCAL_PARTITIONS));
            kafka.createTopic(conf.get(KafkaIngestOptions.DEAD_LETTER_TOPIC), 1);
            if (earlier.isPresent()) {
                System.out.printf("resuming on the store of the earlier run (its Bigtable emulator still runs at %s)%n",
                        earlier.get().endpoint());
                return new LocalCluster(kafka, earlier.get(), true, dataDir);
            }
            if (resume) {
                System.out.println("resuming without the earlier run's store (the Bigtable emulator keeps its data in memory and "
                        + "stopped with that run): the store is rebuilt from the topic");
                deleteRecursively(dataDir.resolve("long-term"));
            }
            EmbeddedBigtable bigtable = EmbeddedBigtable.start();
            Files.writeString(dataDir.resolve(EMULATOR_FILE), bigtable.pid() + " " + bigtable.port() + "\n");
            return new LocalCluster(kafka, bigtable, false, dataDir);
        } catch (Exception e) {
            kafka.close();
            throw e;
        }
    }

    /** Points {@code conf} at this cluster: brokers, store, RocksDB, checkpoints under the data directory. */
    void configure(Configuration conf) {
        conf.set(KafkaIngestOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        conf.addAll(bigtable.storeConfig(conf.get(StoreOptions.BIGTABLE_TABLE), dataDir.resolve("long-term")));
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dataDir.resolve("checkpoints").toUri().toString());
    }

    /**
     * A run killed without stopping its job (SIGKILL, a crash) leaves its writer's lease on the
     * store, unreleased. The new job's sink takes the store over once it has watched that lease
     * without a heartbeat for one lease ({@code sink.writer-lease}, see {@link PersistFrontier#claim}):
     * say so, since its first writes wait that long.
     */
    void reportEarlierLease(PersistFrontier frontier, Duration lease) throws IOException {
        String holder = frontier.leaseHolder();
        if (earlierStore && holder != null) {
            System.out.printf("the earlier run's writer (epoch %s) did not release the store's lease: the new job takes the store "
                    + "over once it has seen no heartbeat for %d s (%s)%n", holder, lease.toSeconds(), TieredStoreSink.WRITER_LEASE.key());
        }
    }

    /** Stops the emulator, then the broker. */
    @Override
    public void close() throws Exception {
        try (EmbeddedKafka k = kafka; EmbeddedBigtable b = bigtable) {
            // closes in reverse order: the emulator, then the broker
        }
    }

    /**
     * Creates {@code dataDir} if needed and locks it for this run, before anything starts.
     *
     * @param resume whether the run resumes on the directory's data ({@code --resume}), which must then exist
     * @return the locked file; closing it (or the process ending) releases the lock
     * @throws IllegalArgumentException {@code --resume} without an earlier run's data; a directory
     *                                  that cannot be created or written; a directory another run holds
     */
    static FileChannel lock(Path dataDir, boolean resume) {
        if (resume && !Files.isDirectory(dataDir.resolve("kafka"))) {
            throw new IllegalArgumentException("--resume: no data of an earlier run in " + dataDir
                    + ". Fix: start without --resume, or point -D" + JobOptions.LOCAL_DATA_DIR.key() + " at that run's directory");
        }
        FileChannel channel;
        try {
            Files.createDirectories(dataDir);
            channel = FileChannel.open(dataDir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IllegalArgumentException("Option '" + JobOptions.LOCAL_DATA_DIR.key() + "': " + dataDir + " cannot be created or written ("
                    + e.getClass().getSimpleName() + "). Fix: point -D" + JobOptions.LOCAL_DATA_DIR.key() + " at a writable directory", e);
        }
        String holder;
        try {
            if (tryLock(channel) != null) {
                channel.truncate(0);
                channel.write(StandardCharsets.UTF_8.encode(ProcessHandle.current().pid() + "\n"), 0);
                return channel;
            }
            holder = Files.readString(dataDir.resolve(LOCK_FILE)).trim();
        } catch (IOException e) {
            throw closing(channel, new IllegalArgumentException("Option '" + JobOptions.LOCAL_DATA_DIR.key() + "': cannot lock "
                    + dataDir.resolve(LOCK_FILE) + " (" + e.getClass().getSimpleName() + "). Fix: point -D" + JobOptions.LOCAL_DATA_DIR.key()
                    + " at a local, writable directory", e));
        }
        throw closing(channel, new IllegalArgumentException("Option '" + JobOptions.LOCAL_DATA_DIR.key() + "': " + dataDir + " is in use by "
                + "another `upsert local` run" + (holder.isEmpty() ? "" : " (process " + holder + ")") + ". Fix: stop that run first "
                + "(then --resume continues it), or point -D" + JobOptions.LOCAL_DATA_DIR.key() + " at another directory"));
    }

    /** Closes {@code channel} (a failure to close goes with {@code failure}) and returns {@code failure} to throw. */
    private static IllegalArgumentException closing(FileChannel channel, IllegalArgumentException failure) {
        try {
            channel.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
        return failure;
    }

    /** The exclusive lock, or {@code null} when another process (or this one) holds it. */
    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    /** The Bigtable emulator an earlier run in {@code dataDir} left running, if it still runs: its store survived. */
    private static Optional<EmbeddedBigtable> earlierEmulator(Path dataDir) throws IOException {
        Path file = dataDir.resolve(EMULATOR_FILE);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String[] pidAndPort = Files.readString(file).trim().split(" ");
        return EmbeddedBigtable.reattach(Long.parseLong(pidAndPort[0]), Integer.parseInt(pidAndPort[1]));
    }

    /** Deletes everything in {@code dataDir} but its lock. */
    private static void deleteContents(Path dataDir) throws IOException {
        try (Stream<Path> children = Files.list(dataDir)) {
            for (Path child : children.filter(c -> !c.getFileName().toString().equals(LOCK_FILE)).toList()) {
                deleteRecursively(child);
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
