package io.upsertfeedback.operators.testing;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedbackOperator;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.watermarkstatus.WatermarkStatus;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;

import java.util.ArrayList;
import java.util.List;

/**
 * Drives one {@link UpsertFeedbackOperator} through Flink's keyed two-input test harness with the
 * chosen state backend, in the vocabulary of the SPEC (commands, prior values, frontiers), and
 * checks the output stream as it goes:
 * <ul>
 *   <li>output watermarks strictly increase, and each is preceded by a progress marker for
 *       {@code watermark + 1};
 *   <li>no data update is late: its timestamp equals its time and is above the last watermark.
 * </ul>
 * It can snapshot the operator and later restore a fresh one from that snapshot, dropping the
 * output produced after the snapshot (what a real failure-and-restore does downstream with
 * exactly-once sinks).
 */
public final class OperatorDriver implements AutoCloseable {
    /** The state backends the conformance suite runs against. */
    public enum Backend { HEAP, ROCKSDB }

    /** A snapshot of the operator plus the output length at that moment. */
    public record Checkpoint(OperatorSubtaskState state, int outputLength, long outputWatermark) {
    }

    private static final KeySelector<UpsertCommand, String> BY_KEY = UpsertCommand::flinkKey;
    /** Max parallelism of every harness, so snapshots can be repartitioned (rescaling tests). */
    public static final int MAX_PARALLELISM = 128;

    private final Backend backend;
    private UpsertOptions options;
    private final int parallelism;
    private final int subtask;
    private final List<Update> output = new ArrayList<>();
    private KeyedTwoInputStreamOperatorTestHarness<String, UpsertCommand, UpsertCommand, Update> harness;
    private UpsertFeedbackOperator operator;
    private long outputWatermark = Long.MIN_VALUE;
    private long checkpointId;

    public OperatorDriver(Backend backend, UpsertOptions options) throws Exception {
        this(backend, options, 1, 0, null);
    }

    /**
     * Subtask {@code subtask} of {@code parallelism}, restored from {@code restoreFrom} when not
     * {@code null} (for a rescale: a snapshot repartitioned with
     * {@code AbstractStreamOperatorTestHarness.repartitionOperatorState}).
     */
    public OperatorDriver(Backend backend, UpsertOptions options, int parallelism, int subtask,
                          OperatorSubtaskState restoreFrom) throws Exception {
        this.backend = backend;
        this.options = options;
        this.parallelism = parallelism;
        this.subtask = subtask;
        start(restoreFrom);
    }

    private void start(OperatorSubtaskState restoreFrom) throws Exception {
        operator = new UpsertFeedbackOperator(options);
        harness = new KeyedTwoInputStreamOperatorTestHarness<>(operator, BY_KEY, BY_KEY, Types.STRING, MAX_PARALLELISM,
                parallelism, subtask);
        harness.setStateBackend(backend == Backend.ROCKSDB ? new EmbeddedRocksDBStateBackend() : new HashMapStateBackend());
        harness.setup(UpdateSerializer.INSTANCE);
        if (restoreFrom == null) {
            harness.open();
        } else {
            harness.initializeState(restoreFrom);
            harness.open();
        }
    }

    /**
     * A subtask that replaced others (a rescale): downstream already saw their combined output
     * watermark {@code watermark}, so this subtask's output must not go behind it either (checked
     * like its own watermarks). Call before any input.
     */
    public void downstreamSaw(long watermark) {
        if (!output.isEmpty()) {
            throw new IllegalStateException("output before downstreamSaw");
        }
        outputWatermark = Math.max(outputWatermark, watermark);
    }

    public void command(UpsertCommand command) throws Exception {
        harness.processElement1(command, command.time());
        collect();
    }

    /** A rehydrated prior value on the feedback input. */
    public void prior(UpsertCommand prior) throws Exception {
        harness.processElement2(prior, prior.time());
        collect();
    }

    /** Moves {@code I} to {@code frontier} (watermark {@code frontier - 1}). */
    public void inputFrontier(long frontier) throws Exception {
        harness.processWatermark1(new Watermark(frontier - 1));
        collect();
    }

    /** Moves {@code P} to {@code frontier} (feedback watermark {@code frontier - 1}). */
    public void persistFrontier(long frontier) throws Exception {
        harness.processWatermark2(new Watermark(frontier - 1));
        collect();
    }

    /** The command input goes idle (every source partition quiet). */
    public void inputIdle() throws Exception {
        harness.processWatermarkStatus1(WatermarkStatus.IDLE);
        collect();
    }

    /** The feedback input ends (no store). */
    public void endFeedback() throws Exception {
        harness.processWatermark2(Watermark.MAX_WATERMARK);
        collect();
    }

    public Checkpoint snapshot() throws Exception {
        return new Checkpoint(harness.snapshot(++checkpointId, checkpointId), output.size(), outputWatermark);
    }

    /** Fails the running operator and restores a fresh one from {@code checkpoint}. */
    public void restore(Checkpoint checkpoint) throws Exception {
        restore(checkpoint, null);
    }

    /** As {@link #restore(Checkpoint)}, the job resubmitted with {@code newOptions} ({@code null}: unchanged). */
    public void restore(Checkpoint checkpoint, UpsertOptions newOptions) throws Exception {
        if (newOptions != null) {
            options = newOptions;
        }
        harness.close();
        output.subList(checkpoint.outputLength(), output.size()).clear();
        outputWatermark = checkpoint.outputWatermark();
        start(checkpoint.state());
    }

    private void collect() {
        Update pendingProgress = null;
        for (Object element : harness.getOutput()) {
            if (element instanceof Watermark watermark) {
                long w = watermark.getTimestamp();
                check(w > outputWatermark, "output watermark went from " + outputWatermark + " to " + w);
                long frontier = w == Long.MAX_VALUE ? Long.MAX_VALUE : w + 1;
                check(pendingProgress != null && pendingProgress.time() == frontier,
                        "watermark " + w + " not preceded by a progress marker for " + frontier + " (got " + pendingProgress + ")");
                outputWatermark = w;
                pendingProgress = null;
            } else if (element instanceof StreamRecord<?> record) {
                Update update = (Update) record.getValue();
                check(pendingProgress == null, "progress marker " + pendingProgress + " not followed by a watermark");
                if (update.isProgress()) {
                    pendingProgress = update;
                } else {
                    check(record.getTimestamp() == update.time(), "record timestamp " + record.getTimestamp() + " != time of " + update);
                    check(update.keyHash() == Update.keyHash(update.key()), "update " + update + " carries a wrong key hash");
                    check(update.time() > outputWatermark, "late update " + update + " behind output watermark " + outputWatermark);
                }
                output.add(update);
            } else {
                throw new AssertionError("unexpected output element " + element);
            }
        }
        check(pendingProgress == null, "progress marker " + pendingProgress + " not followed by a watermark");
        harness.getOutput().clear();
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    /** Every output element so far (data updates and progress markers), in order. */
    public List<Update> output() {
        return output;
    }

    /** The output frontier: last output watermark + 1 (saturating). */
    public long outputFrontier() {
        return outputWatermark == Long.MIN_VALUE || outputWatermark == Long.MAX_VALUE ? outputWatermark : outputWatermark + 1;
    }

    /** The last progress marker emitted, or {@code null}. */
    public Update lastProgress() {
        for (int i = output.size() - 1; i >= 0; i--) {
            if (output.get(i).isProgress()) {
                return output.get(i);
            }
        }
        return null;
    }

    /** Stash entries the operator holds (its metric). */
    public long stashEntries() {
        return operator.stashEntries();
    }

    /** The running operator instance (replaced by a restore). */
    public UpsertFeedbackOperator operator() {
        return operator;
    }

    @Override
    public void close() throws Exception {
        harness.close();
    }
}
