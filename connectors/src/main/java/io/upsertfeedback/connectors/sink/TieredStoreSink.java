package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.TierWrapper;
import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.runtime.execution.SuppressRestartsException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Flink Sink V2 writing the operator's {@link Update} stream into the tiered store and advancing
 * the store's persist frontier (see {@link TieredStoreSinkWriter} for the protocol).
 *
 * <pre>{@code
 * operatorOutput.sinkTo(TieredStoreSink.builder()
 *         .setStoreConfig(conf)   // StoreOptions (store.*) and the sink.* options below
 *         .build());              // a fresh writer epoch per built sink: one job = one writer
 * }</pre>
 *
 * Connect it forward from the operator with the same parallelism. The writer epoch is chosen
 * when the sink is built, so it survives failovers of the same job (they keep writing) but a
 * newly submitted job gets a new one: it fails fast while another job holds the lease, unless it
 * was restored from that job's checkpoint or savepoint (the epoch is the writer state), in which
 * case it takes over at once and fences the old job ({@link PersistFrontier#claim}).
 */
public final class TieredStoreSink implements Sink<Update>, SupportsWriterState<Update, WriterState>, SupportsCommitter<DeleteMarkers> {
    private static final long serialVersionUID = 1L;

    public static final ConfigOption<Integer> WINDOW_SIZE = ConfigOptions.key("sink.window-size")
            .intType().defaultValue(32)
            .withDescription("Storage operations in flight per sink subtask (a batch of inline writes is one operation); when all are busy the sink blocks and Flink backpressures.");

    public static final ConfigOption<Integer> BATCH_SIZE = ConfigOptions.key("sink.batch-size")
            .intType().defaultValue(500)
            .withDescription("Inline writes sent to storage in one batch (one round trip); a batch takes one place in the window.");

    public static final ConfigOption<Integer> CONSOLIDATION_BUFFER = ConfigOptions.key("sink.consolidation-buffer")
            .intType().defaultValue(1_000_000)
            .withDescription("Keys held per sink subtask while their writes wait for the watermark or for a free place in the window; "
                    + "a held key absorbs its later updates into one write (what lets a backlog spanning many ticks catch up at the "
                    + "speed of one tick). Beyond it, or beyond sink.consolidation-buffer-size, the eldest key is written at once and "
                    + "the sink blocks while storage is busy. The heap is bounded by sink.consolidation-buffer-size, which a key "
                    + "reaches first at the defaults (it counts about 300 bytes per key besides its key and values).");

    public static final ConfigOption<MemorySize> CONSOLIDATION_BUFFER_SIZE = ConfigOptions.key("sink.consolidation-buffer-size")
            .memoryType().defaultValue(MemorySize.parse("64mb"))
            .withDescription("Estimated heap of the keys and values held per sink subtask, object overhead included (about 300 bytes per "
                    + "key and 40 per value besides their bytes); see sink.consolidation-buffer, whichever limit is reached first.");

    public static final ConfigOption<Duration> CATCH_UP_MAX_HOLD = ConfigOptions.key("sink.catch-up.max-hold")
            .durationType().defaultValue(Duration.ofMinutes(1))
            .withDescription("While the job reads a backlog (its watermark advancing more than twice as fast as the wall clock "
                    + "over the last 5 s, sampled every second), how long the sink holds a key's updates at most before writing their "
                    + "sum, keeping what it holds in its checkpoints instead of writing it at each one: each key of a backlog is "
                    + "written about once per this duration, however many ticks its updates span (SPEC 3.12), and the store's persist "
                    + "frontier advances about as often. Shorter: a fresher store while catching up, more writes (30 s made the "
                    + "reference 24-hour backlog write its keys twice and run about a fifth longer). Live traffic is held by it only from the job's first watermark until a sample has judged its pace over at least one second (1 to 2 s). "
                    + "0 disables the hold (needed with upsert.lead, whose every "
                    + "tick waits for the store; the job sets it so). Held keys cost heap within sink.consolidation-buffer(-size).");

    public static final ConfigOption<Duration> WRITER_LEASE = ConfigOptions.key("sink.writer-lease")
            .durationType().defaultValue(Duration.ofSeconds(30))
            .withDescription("How long a writer's heartbeat keeps other jobs from claiming the store; heartbeats run every quarter lease.");

    private final Configuration config;
    private final String epoch;
    private final TierWrapper tiers;

    private TieredStoreSink(Configuration config, String epoch, TierWrapper tiers) {
        this.config = config;
        this.epoch = epoch;
        this.tiers = tiers;
    }

    /**
     * Checks the sink's own options ({@code sink.*}) for their ranges, without opening anything, so
     * that a job can refuse them before it starts.
     *
     * @throws IllegalArgumentException naming the option, its value and the fix
     */
    public static void checkOptions(ReadableConfig config) {
        for (ConfigOption<Integer> count : List.of(WINDOW_SIZE, BATCH_SIZE, CONSOLIDATION_BUFFER)) {
            int value = config.get(count);
            if (value < 1) {
                throw new IllegalArgumentException("Option '" + count.key() + "' is " + value + ". Fix: set at least 1");
            }
        }
        if (config.get(CONSOLIDATION_BUFFER_SIZE).getBytes() < 1) {
            throw new IllegalArgumentException("Option '" + CONSOLIDATION_BUFFER_SIZE.key() + "' is 0 bytes. Fix: set at least 1 byte (e.g. 64mb)");
        }
        if (config.get(CATCH_UP_MAX_HOLD).isNegative()) {
            throw new IllegalArgumentException("Option '" + CATCH_UP_MAX_HOLD.key() + "' is negative. Fix: set 0 (no catch-up hold) or more");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public String epoch() {
        return epoch;
    }

    @Override
    public StatefulSinkWriter<Update, WriterState> createWriter(WriterInitContext context) throws IOException {
        return restoreWriter(context, List.of());
    }

    /**
     * A writer for a subtask attempt. {@code recoveredState} holds the writer epochs of the job
     * whose checkpoint or savepoint this one was restored from: this job succeeds them
     * ({@link PersistFrontier#claim}), so {@code flink run -s} right after {@code flink stop} starts
     * at once instead of waiting for the stopped job's lease; and the keys held across that
     * checkpoint ({@link #CATCH_UP_MAX_HOLD}), which the writer holds again or writes.
     *
     * @throws SuppressRestartsException wrapping {@link FencedException} while another job holds the store
     */
    @Override
    public StatefulSinkWriter<Update, WriterState> restoreWriter(WriterInitContext context, Collection<WriterState> recoveredState)
            throws IOException {
        int subtask = context.getTaskInfo().getIndexOfThisSubtask();
        int parallelism = context.getTaskInfo().getNumberOfParallelSubtasks();
        StoreHandle handle = Stores.open(config, epoch + "/" + subtask + "/" + UUID.randomUUID(), tiers);
        try {
            TieredStoreSinkWriter.Settings settings = new TieredStoreSinkWriter.Settings(config.get(WINDOW_SIZE), config.get(BATCH_SIZE),
                    config.get(CONSOLIDATION_BUFFER), config.get(CONSOLIDATION_BUFFER_SIZE).getBytes(), config.get(WRITER_LEASE),
                    config.get(CATCH_UP_MAX_HOLD));
            Set<String> epochs = new HashSet<>();
            recoveredState.forEach(state -> epochs.add(state.epoch()));
            PersistFrontier.Lease claimed = claim(handle.frontier(), epochs, context.getRestoredCheckpointId().isPresent(),
                    subtask, parallelism, settings.lease());
            MailboxExecutor mailbox = context.getMailboxExecutor();
            return new TieredStoreSinkWriter(handle, claimed, epoch, subtask, parallelism, settings, recoveredState,
                    action -> mailbox.execute(action::run, "tiered-store sink: write held updates"), context.getProcessingTimeService(),
                    context.metricGroup());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(handle, e);
            throw new InterruptedIOException("interrupted while writing the restored held keys");
        } catch (FencedException e) {
            closeQuietly(handle, e);
            throw new SuppressRestartsException(e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(handle, e);
            throw e;
        }
    }

    /**
     * Claims the subtask's column, succeeding the epochs in {@code recoveredState}. Writer state is
     * split among the subtasks on restore (Flink's list-state redistribution), so after scaling up
     * some restored subtasks hold none: such a subtask cannot tell whom it succeeds, and when it is
     * refused it retries, for at most one lease, until a sibling holding the state has taken the
     * store over for this epoch (or the old lease expired).
     */
    private PersistFrontier.Lease claim(PersistFrontier frontier, Set<String> recoveredEpochs, boolean restored,
                                        int subtask, int parallelism, Duration lease) throws IOException {
        Set<String> predecessors = new HashSet<>(recoveredEpochs);
        predecessors.remove(epoch);
        long deadline = System.nanoTime() + lease.toNanos();
        while (true) {
            try {
                return frontier.claim(epoch, predecessors, subtask, parallelism, lease);
            } catch (FencedException e) {
                if (!restored || !recoveredEpochs.isEmpty() || System.nanoTime() >= deadline) {
                    throw e;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            }
        }
    }

    /** Collects the deletion markers of each completed checkpoint ({@link MarkerCollector}). */
    @Override
    public Committer<DeleteMarkers> createCommitter(CommitterInitContext context) {
        return new MarkerCollector(config, tiers, epoch + "/markers/" + context.getTaskInfo().getIndexOfThisSubtask() + "/" + UUID.randomUUID(),
                context.metricGroup());
    }

    @Override
    public SimpleVersionedSerializer<DeleteMarkers> getCommittableSerializer() {
        return DeleteMarkers.SERIALIZER;
    }

    @Override
    public SimpleVersionedSerializer<WriterState> getWriterStateSerializer() {
        return WriterState.SERIALIZER;
    }

    private static void closeQuietly(StoreHandle handle, Exception cause) {
        try {
            handle.close();
        } catch (Exception e) {
            cause.addSuppressed(e);
        }
    }

    /** Builder of {@link TieredStoreSink}. */
    public static final class Builder {
        private final Configuration config = new Configuration();
        private String epoch;
        private TierWrapper tiers = TierWrapper.NONE;

        private Builder() {}

        /** Store options ({@code store.*}) and sink options ({@code sink.*}). */
        public Builder setStoreConfig(Configuration storeConfig) {
            config.addAll(storeConfig);
            return this;
        }

        public <T> Builder set(ConfigOption<T> option, T value) {
            config.set(option, value);
            return this;
        }

        /** Overrides the writer epoch (default: a random UUID per built sink). */
        public Builder setEpoch(String epoch) {
            this.epoch = Objects.requireNonNull(epoch);
            return this;
        }

        /** Wraps the store's tiers in every writer (fault injection in failure tests, instrumentation). */
        public Builder setTierWrapper(TierWrapper tiers) {
            this.tiers = Objects.requireNonNull(tiers);
            return this;
        }

        /** @throws IllegalArgumentException on a sink option out of its range ({@link #checkOptions}) */
        public TieredStoreSink build() {
            checkOptions(config);
            return new TieredStoreSink(config.clone(), epoch != null ? epoch : UUID.randomUUID().toString(), tiers);
        }
    }
}
