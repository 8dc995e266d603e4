package io.upsertfeedback.operators;

import io.upsertfeedback.operators.KeyDrainer.DrainStats;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.InternalTimer;
import org.apache.flink.streaming.api.operators.InternalTimerService;
import org.apache.flink.streaming.api.operators.Triggerable;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.watermarkstatus.WatermarkStatus;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The upsert feedback operator: turns upsert commands into a differential collection
 * {@code (key, value, time, diff)}, gated by the input frontier {@code I} and by the persist
 * frontier {@code P} the store feeds back (SPEC sections 2 and 3; DESIGN.md for the contracts).
 *
 * <pre>
 *   commands (input 1) ----------> +----------+ --> updates, progress markers, watermark --> store
 *   prior values as of P (input 2) |   this   |                                                |
 *   P - 1 as its watermark ------> +----------+ <------------- P (the store's frontier) -------'
 * </pre>
 *
 * <h2>Why a custom two-input operator</h2>
 * A {@code KeyedCoProcessFunction} sees one combined watermark (the minimum of both inputs) and
 * its output watermark is that combined watermark. This operator needs the two frontiers apart
 * ({@code I} opens times, {@code P} bounds how far output may run ahead of durable storage, and
 * {@code P} passing the state frontier means a rehydrated store) and must hold its output watermark
 * back while it holds data. So it extends {@link AbstractStreamOperator}, overrides
 * {@link #processWatermark1} / {@link #processWatermark2}, drives the keyed timer service itself
 * and emits its own watermark. Watermark statuses are not forwarded: the output watermark is a
 * function of {@code I}, {@code P} and what is held, nothing else; an idle command input moves
 * {@code I} to the tick after the latest command received ({@link Frontiers#inputIdle}).
 *
 * <h2>Parts: each rule in one place</h2>
 * {@link Frontiers}: {@code I}, {@code P}, the state frontier {@code S} and the drain bound
 * {@code D = min(I, P + lead)}, the single spelling of eligibility (commands at {@code t} drain
 * when {@code S <= t < D}). {@link KeyState}: a key's applied value, its order key and its stash of
 * pending commands, one keyed {@code ValueState} per key. {@link KeyStateBuffer}: the write-back
 * buffer of key states (a key costs one state read when it enters it, one write when it leaves,
 * and one at each checkpoint after it changed). {@link KeyDrainer}: a drain pass and the output rule. {@link HeldTimes}: the held times
 * and their source positions, for the output watermark and the progress markers.
 *
 * <h2>Algorithm</h2>
 * <b>Command (input 1).</b> Dropped and counted if its offset is below the resume position of
 * its partition (rehydration: the store holds it), or if its order key is not newer than
 * everything the key holds (it can only be a replay; "highest order key wins"). Otherwise it gets
 * the time {@code max(t, key's last time, }{@link Frontiers#openTime}{@code , time the key last
 * drained at)} (counted as retimed when that is not {@code t}): a closed time is never written, and
 * times never go backwards for a key, so a command with a higher offset but an older timestamp
 * still wins. The last term matters only for a command that arrived behind {@code I} (its input was
 * idle) after a restore: the restored {@code S} is the minimum over the subtasks' (they went idle
 * apart), which may be below the time the key's old subtask drained it at. It goes to the key's
 * stash, in the buffer, and its time is held.
 * <br><b>Prior value (input 2).</b> A rehydrated value as of {@code P} becomes the key's applied
 * value (if its order key is newer than what the key has applied); nothing is emitted.
 * <br><b>The loop</b> ({@link #advance}, each time {@code I} or {@code P} moves):
 * <ol type="A">
 *   <li><b>Adopt.</b> A rehydrating operator moves {@code S} up to {@code P}; a restored one never
 *       does ({@link Frontiers}, "P passing held commands").
 *   <li><b>Seal.</b> A drain pass runs when {@code D > S}. Every entry below {@code D} leaves the
 *       stash in it, so the held times below {@code D} are released at once.
 *   <li><b>Fire.</b> The timer service advances to {@code D - 1}; each fired timer drains its key.
 *       A key that is not buffered is read, drained and written back, with a new timer at its
 *       first remaining entry.
 *   <li><b>Drain the buffer.</b> Every buffered key holding stash entries is drained, which covers
 *       every pass in which a timer at its first entry would fire.
 *   <li><b>Close.</b> The pass drained exactly the entries held below {@code D} (checked);
 *       {@code S = D}; the metrics are updated from the pass's {@link DrainStats}.
 *   <li><b>Progress.</b> The output frontier is {@link Frontiers#outputFrontier}{@code (earliest
 *       held time)}; when its watermark advances, a {@link Update#progress} marker with the source
 *       positions valid below it is emitted, then the watermark (a partition this subtask has seen
 *       nothing of keeps the position its job started from).
 * </ol>
 *
 * <h2>Invariants and why they hold</h2>
 * <ul>
 *   <li>Every stash entry has time {@code >= S} or is drained at {@code S} once the next pass
 *       comes: nothing is stranded, nothing is dropped for its time. Every emitted record has a
 *       time {@code >= S >= P} and {@code >=} the output frontier at the moment its command
 *       arrived, and the output watermark never passes a held entry's effective time, so no output
 *       record is ever late.
 *   <li>A key with pending entries that is not buffered has exactly one timer, at its earliest
 *       pending time; a buffered one has at most that timer and is drained by every pass. Within
 *       a key the stash is in time order, so each key drains in time order with its state carried
 *       forward. {@link HeldTimes} changes at arrival and after each pass whether a key is
 *       buffered or not, so the output watermark, the progress markers, the counters and
 *       {@link #stashEntries} do not depend on the buffer; only the order of updates of different
 *       keys within one pass does, and all of them precede the pass's watermark.
 *   <li>A deleted key keeps its state (the delete's order key, its partition times, the time it
 *       drained at): a put older than the delete, from a partition that was behind while the input
 *       was idle, is then dropped as superseded (SPEC 2). So the keyed state grows with the distinct
 *       keys ever deleted, a few dozen bytes each besides the key (README).
 *   <li>Stashed commands beyond the bounded buffer live in the state backend (RocksDB in
 *       production), not on the heap; besides the buffer the heap holds only {@link HeldTimes},
 *       sized by distinct held times, snapshotted in operator state. After a rescale its snapshot
 *       no longer matches the subtask's key groups, so it is rebuilt by one scan of the keyed state
 *       (one pass over the keys, still no O(keys) heap).
 *   <li>State TTL is never configured (see {@link UpsertOptions}): it would break retractions.
 * </ul>
 */
public final class UpsertFeedbackOperator extends AbstractStreamOperator<Update>
        implements TwoInputStreamOperator<UpsertCommand, UpsertCommand, Update>, Triggerable<String, VoidNamespace> {
    private static final long serialVersionUID = 1L;

    private static final String KEY_STATE_NAME = "upsert-key-state";
    private static final String FRONTIERS_STATE_NAME = "upsert-frontiers";
    private static final String TIMERS_NAME = "upsert-stash-timers";

    private final UpsertOptions options;

    /** The store's positions at build time: what a progress marker gives for a partition this subtask has not seen. */
    private transient Map<Integer, Long> startPositions;
    /** Commands below these offsets are dropped (the store holds them): {@link #startPositions}, for an operator without state. */
    private transient Map<Integer, Long> resumePositions;
    private transient ValueState<KeyState> keyStates;
    private transient InternalTimerService<VoidNamespace> timers;
    private transient ListState<long[]> frontiersState;
    private transient Frontiers frontiers;
    private transient HeldTimes held;
    private transient KeyStateBuffer buffer;
    /** The current (or last) drain pass: fired timers drain their keys through it. */
    private transient KeyDrainer pass;
    private transient StreamRecord<Update> outRecord;

    private transient OperatorMetrics metrics;

    public UpsertFeedbackOperator(UpsertOptions options) {
        this.options = options;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        // the store's positions only concern an operator without state: a restored one replays
        // from its own checkpointed offsets, and its state never saw what it replays
        startPositions = options.resumePositions();
        resumePositions = context.isRestored() ? Map.of() : startPositions;
        frontiers = new Frontiers(options.leadMillis(), options.tick().toMillis(), !context.isRestored());
        held = new HeldTimes();
        buffer = new KeyStateBuffer(options.bufferSize().getBytes(), new KeyStateBuffer.Store() {
            @Override
            public KeyState read() throws Exception {
                return keyStates.value();
            }

            @Override
            public void writeBack(String key, KeyState state, boolean timer) throws Exception {
                setCurrentKey(key);
                write(state, timer);
            }
        });
        ValueStateDescriptor<KeyState> keyStateDescriptor = new ValueStateDescriptor<>(KEY_STATE_NAME, KeyState.Serializer.INSTANCE);
        keyStates = context.getKeyedStateStore().getState(keyStateDescriptor);
        frontiersState = context.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>(FRONTIERS_STATE_NAME, PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO));
        if (context.isRestored() && !restoreFrontiersAndHeldTimes()) {
            getKeyedStateBackend().applyToAllKeys(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                    keyStateDescriptor, (key, state) -> {
                        KeyState keyState = state.value();
                        if (keyState != null) {
                            for (KeyState.Pending pending : keyState.stash) {
                                held.add(pending.time(), pending.partition(), pending.offset());
                            }
                        }
                    });
        }
    }

    /**
     * One entry per subtask ({@link Frontiers#encode}). Frontiers restore to the minimum over the
     * entries, seen offsets to the maximum. The held times restore from this subtask's own entry
     * when the parallelism is unchanged (same key groups); otherwise (rescaling) this returns false
     * and the caller rebuilds them from the keyed state.
     */
    private boolean restoreFrontiersAndHeldTimes() throws Exception {
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        int parallelism = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        List<long[]> entries = new ArrayList<>();
        frontiersState.get().forEach(entries::add);
        frontiers.restore(entries);
        boolean heldTimesRestored = false;
        for (long[] entry : entries) {
            boolean own = Frontiers.isOwnEntry(entry, subtask, parallelism);
            held.decode(entry, Frontiers.ENTRY_HEADER, own);
            heldTimesRestored |= own;
        }
        return heldTimesRestored;
    }

    /** The buffer writes back what changed first (its keys stay buffered): a checkpoint never needs it. */
    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        buffer.writeBackAll();
        super.snapshotState(context);
        frontiersState.update(List.of(frontiers.encode(getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks(), held.encode())));
    }

    @Override
    public void open() throws Exception {
        super.open();
        timers = getInternalTimerService(TIMERS_NAME, VoidNamespaceSerializer.INSTANCE, this);
        outRecord = new StreamRecord<>(null);
        metrics = new OperatorMetrics(getMetricGroup(), frontiers, held);
    }

    /** Commands held in the stash (ineligible or not yet drained); also the {@code stashEntries} gauge. */
    public long stashEntries() {
        return held.size();
    }

    /** Held (partition, time) buckets: the size of the operator's heap bookkeeping. */
    int heldBuckets() {
        return held.buckets();
    }

    /** Estimated heap of the keys in the buffer, checked against a recount ({@link KeyStateBuffer#bytes}). */
    long bufferedBytes() {
        return buffer.bytes();
    }

    long droppedSupersededCount() {
        return metrics.droppedSuperseded.getCount();
    }

    long droppedBelowResumePositionCount() {
        return metrics.droppedBelowResumePosition.getCount();
    }

    long retimedCount() {
        return metrics.retimed.getCount();
    }

    @Override
    public void processElement1(StreamRecord<UpsertCommand> record) throws Exception {
        UpsertCommand command = record.getValue();
        int partition = command.partition();
        long offset = command.offset();
        held.noteSeen(partition, offset);
        if (!resumePositions.isEmpty()) {
            Long resumeAt = resumePositions.get(partition);
            if (resumeAt != null && offset < resumeAt) {
                metrics.droppedBelowResumePosition.inc();
                return;
            }
        }
        KeyStateBuffer.Buffered buffered = buffer.admit((String) getCurrentKey(), command.key());
        KeyState state = buffered.state;
        // the time rule's last step (SPEC 2): never behind the key's previous time in this partition
        long orderTime = Math.max(command.time(), state.lastTimeIn(partition));
        state.noteTime(partition, orderTime);
        frontiers.latestCommand = Math.max(frontiers.latestCommand, orderTime);
        if (state.isNewerThanApplied(orderTime, partition, offset)) {
            stash(buffered, orderTime, partition, offset, command.value());
        } else {
            metrics.droppedSuperseded.inc();
        }
        buffer.fit();
    }

    /** Stashes a command newer than the key's applied value at its open time, and holds that time. */
    private void stash(KeyStateBuffer.Buffered buffered, long orderTime, int partition, long offset, UpsertValue value) {
        long time = Math.max(orderTime, Math.max(frontiers.openTime(), buffered.state.drainedTime));
        if (time != orderTime) {
            metrics.retimed.inc();
        }
        KeyState.Pending pending = new KeyState.Pending(time, orderTime, partition, offset, value);
        KeyState.Pending displaced = buffered.state.stash(pending);
        if (displaced == pending) {
            metrics.droppedSuperseded.inc();
            return;
        }
        buffer.stashed(buffered, pending, displaced);
        if (displaced == null) {
            held.add(time, partition, offset);
        } else if (displaced.partition() == partition) {
            held.replace(time, partition, offset);
        } else {
            held.remove(time, displaced.partition());
            held.add(time, partition, offset);
        }
    }

    @Override
    public void processElement2(StreamRecord<UpsertCommand> record) throws Exception {
        UpsertCommand prior = record.getValue();
        KeyStateBuffer.Buffered buffered = buffer.get((String) getCurrentKey());
        KeyState state = buffered != null ? buffered.state : keyStates.value();
        if (state == null) {
            state = new KeyState();
        }
        state.noteTime(prior.partition(), prior.time());
        if (state.isNewerThanApplied(prior.time(), prior.partition(), prior.offset())) {
            state.setApplied(prior.value(), prior.time(), prior.partition(), prior.offset(), prior.time());
            metrics.rehydratedValues.inc();
        }
        if (buffered == null) {
            write(state, false);
        } else {
            buffer.changed(buffered);
        }
    }

    @Override
    public void processWatermark1(Watermark mark) throws Exception {
        frontiers.inputWatermark(mark.getTimestamp());
        advance();
    }

    @Override
    public void processWatermark2(Watermark mark) throws Exception {
        frontiers.feedbackWatermark(mark.getTimestamp());
        advance();
    }

    /** Also reached when Flink recombines watermarks on an idleness change: the frontiers are ours, ignore it. */
    @Override
    public void processWatermark(Watermark mark) {
    }

    /** Input 1 (index 0) idle: every partition is quiet, its last tick may drain (point of {@link Frontiers#inputIdle}). */
    @Override
    protected void processWatermarkStatus(WatermarkStatus status, int index) throws Exception {
        if (index == 0 && status.isIdle()) {
            frontiers.inputIdle();
            advance();
        }
    }

    /** The operator loop, steps A to F of the class comment. */
    private void advance() throws Exception {
        // Step A: adopt P (a rehydrating operator only).
        frontiers.adopt();
        // Step B: seal. A pass is due only when D > S; every entry below D leaves the stash in it.
        long bound = frontiers.drainBound();
        if (bound > frontiers.state) {
            long due = held.removeBelow(bound);
            pass = new KeyDrainer(bound, frontiers.state, this::emit);
            // Step C: fire the timers below D; each drains its key (onEventTime).
            timeServiceManager.advanceWatermark(new Watermark(bound - 1));
            // Step D: drain the buffered keys, unless the timers drained everything due: a pass
            // would otherwise walk the whole buffer even when no buffered key holds anything due.
            if (pass.drained() < due) {
                buffer.forEachStashed(bound, pass::drain);
            }
            // Step E: close. Every entry held below D left the stash (checked); S = D.
            DrainStats stats = pass.stats();
            if (stats.drained() != due) {
                throw new IllegalStateException("drain pass to " + bound + " took " + stats.drained()
                        + " stash entries, but " + due + " were held below it");
            }
            frontiers.state = bound;
            metrics.drained(stats, held.size());
        }
        // Step F: progress marker, then the watermark, when the output frontier moves.
        long frontier = frontiers.outputFrontier(held.isEmpty() ? Long.MAX_VALUE : held.earliestTime());
        long watermark = Frontiers.toWatermark(frontier);
        if (watermark > frontiers.outputWatermark) {
            output.collect(outRecord.replace(Update.progress(frontier, held.positions(startPositions)), watermark));
            frontiers.outputWatermark = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }

    /**
     * Step C for one key: drains the timer's key through the pass. A buffered key stays buffered
     * (its timer is gone; step D or a spill takes care of what remains); any other is read,
     * drained and written back, with a new timer at its first remaining entry.
     */
    @Override
    public void onEventTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
        KeyStateBuffer.Buffered buffered = buffer.timerFired(timer.getKey());
        if (buffered != null) {
            pass.drain(buffered.state, buffered.key, buffered.keyHash);
            buffer.changed(buffered);
            return;
        }
        KeyState state = keyStates.value();
        if (state == null) {
            return;
        }
        byte[] key = timer.getKey().getBytes(StandardCharsets.ISO_8859_1);
        pass.drain(state, key, Update.keyHash(key));
        write(state, !state.stash.isEmpty());
    }

    /**
     * Writes the current key's state, or clears it when there is nothing worth keeping; first
     * registers a timer at its first stash entry when {@code timer}.
     */
    private void write(KeyState state, boolean timer) throws Exception {
        if (timer) {
            timers.registerEventTimeTimer(VoidNamespace.INSTANCE, state.stash.get(0).time());
        }
        if (state.isEmpty()) {
            keyStates.clear();
        } else {
            keyStates.update(state);
        }
    }

    private void emit(Update update) {
        output.collect(outRecord.replace(update, update.time()));
    }

    @Override
    public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) {
        throw new IllegalStateException("the upsert feedback operator registers no processing-time timers");
    }
}
