package io.upsertfeedback.operators;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The upsert feedback operator: turns upsert commands into a differential collection
 * {@code (key, value, time, diff)}, gated by the input frontier {@code I} and by the persist
 * frontier {@code P} the store feeds back (SPEC sections 2 and 3; DESIGN.md for the contracts).
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
 * {@code I} past the latest command received ({@link Frontiers#inputIdle}).
 *
 * <h2>Frontiers</h2>
 * A frontier {@code F} is "everything at a time {@code < F}"; it travels as watermark
 * {@code F - 1}; arithmetic saturates at {@code Long.MIN_VALUE} ("nothing") and
 * {@code Long.MAX_VALUE} ("everything").
 * <ul>
 *   <li>{@code I} = command-input watermark + 1. {@code P} = feedback-input watermark + 1; it
 *       starts at "nothing", so nothing drains before the feedback input speaks. A
 *       {@code MAX_WATERMARK} on the feedback input means that input ended (no store, e.g.
 *       {@link UpsertFeedback#noFeedback}): from then on drains are gated by {@code I} only. It
 *       does <em>not</em> move {@code P} to "everything", which would retime every command to +inf.
 *   <li>{@code S}, the state frontier: prior values reflect every drained time {@code < S}.
 *       It moves to {@code D} after each drain pass and, in an operator that started without
 *       state, up to {@code P} whenever {@code P} passes it (a store that holds more than this
 *       operator has drained: rehydration).
 *   <li>{@code D = min(I, P + lead)}: the drain bound. A drain pass runs when {@code D > S}.
 * </ul>
 *
 * <h2>Algorithm</h2>
 * <b>Command (input 1).</b> Dropped and counted if its offset is below the resume position of
 * its partition (rehydration: the store holds it), or if its order key is not newer than
 * everything the key holds (it can only be a replay; "highest order key wins"). Otherwise it gets
 * the time {@code max(t, S, output frontier, key's last time)} (counted as retimed when that is
 * not {@code t}): a closed time is never written, and times never go backwards for a key, so a
 * command with a higher offset but an older timestamp still wins. It goes to the key's stash
 * ({@link KeyState}): replacing the last entry when at the same time (it has the higher order key),
 * else appended. The key's state stays in the <em>buffer</em> (below): no state write, no timer.
 * <br><b>Prior value (input 2).</b> A rehydrated value as of {@code P} becomes the key's applied
 * value (if its order key is newer than what the key has applied); nothing is emitted.
 * <br><b>Drain pass</b> (when {@code I} or {@code P} moves and {@code D > S}): the timer service
 * is advanced to {@code D - 1} (each fired timer drains its key), then every buffered key holding
 * stash entries is drained. Draining a key takes its stash entries below {@code D}, in time
 * order, each at {@code max(stored time, S)} (counted as retimed when {@code S} passed it), the
 * prior value carried forward from one to the next. An entry whose order key is not newer than the applied one
 * (a rehydrated value came in after it) is dropped as superseded. A key drained through its timer
 * that is not buffered is read, drained and written, with a new timer at its first remaining entry.
 * Every entry below {@code D} has then left the stash, so {@link HeldTimes} drops the times below
 * {@code D} at once (and the operator checks that their count is what the pass drained). Then
 * {@code S = D}.
 * <br><b>P passing held commands.</b> In a running pipeline {@code P} never passes a held time:
 * the sink's frontier follows this operator's output watermark, which stays below what is held.
 * It does in two cases, told apart by whether the operator restored state:
 * <ul>
 *   <li><em>Rehydration</em> (no checkpoint: the operator started empty and the store was fed back
 *       to it). The store claims every time below {@code P}, so the held commands are applied at
 *       {@code P} (never behind it, which would rewrite history the store calls final) as soon as
 *       {@code I > P}; meanwhile the output watermark is {@code P - 1}, not pinned below it.
 *   <li><em>Restore from a checkpoint or savepoint.</em> The sink advanced {@code P} with the
 *       watermark, after the checkpoint, so the store is ahead of the restored operator. But the
 *       restored state and the restored source offsets agree with each other: the replay drains
 *       the same commands at the same times as the failed attempt, and the sink rewrites the same
 *       cells (idempotent, never older over newer). So here {@code P} only opens the eligibility
 *       gate: it moves neither {@code S} nor the output watermark. Retiming the replay to {@code P}
 *       would emit a changelog a failure-free run never emits, and could order a replayed delete
 *       behind a retimed put of the failed attempt, which the store would refuse as older.
 * </ul>
 * <br><b>Output rule</b> (SPEC 3.5) for prior {@code p} and winner {@code x}: {@code x} present:
 * {@code (p,t,-1)} if {@code p} exists, then {@code (x,t,+1)}; {@code x} a delete: {@code (p,t,-1)}
 * if {@code p} exists, else nothing; {@code x} equal to {@code p}: nothing. Error values are values.
 * Records carry timestamp {@code t} and the order key of the command that caused them.
 * <br><b>Output watermark</b> {@code = max(min(I, earliest held time), P) - 1} ({@code P} only when
 * rehydrating, see above), the earliest held time being {@code max(earliest stashed time, S)}; emitted only when it advances, right after a
 * {@link Update#progress} marker with the source positions valid below the new frontier.
 *
 * <h2>The buffer (hot path)</h2>
 * Stashing every command in the state backend costs, per command, a state read and write at
 * arrival, a timer registered and fired, and a read and write at the drain. Instead the operator
 * keeps a write-back buffer of key states on the heap ({@code buffer}, in the order keys entered it):
 * a key accepting a command is read once from the backend (unless buffered) and stays buffered; a
 * drain pass drains the buffered keys holding stash entries due in it (one walk over the buffer,
 * skipped when the timers already drained everything due), which stay buffered. A key leaves the buffer (one state write) only when the buffer is
 * full, or at a snapshot. Eviction is CLOCK (second chance): the oldest key leaves unless it got a
 * command since it was last looked at, in which case it goes to the back once. That keeps hot keys
 * like LRU would, without relinking a list node on every hit: on the hot path a hit only sets a
 * flag, which also spares the garbage collector a write into an old object (for the same reason a
 * pass walks the buffer rather than keeping a list of keys with entries: every add to such a list
 * is a reference written into an old array, which G1 must refine). So a key costs one state read when it enters
 * the buffer and one write when it leaves, and no timer, whatever number of commands it gets and
 * drains meanwhile.
 * <ul>
 *   <li><b>Exact.</b> The buffer holds the authoritative state of its keys: commands, prior values
 *       and timers read a key's state from the buffer first. {@link HeldTimes} is updated at
 *       arrival and after each pass exactly as without a buffer, so the output watermark, the progress
 *       markers, the counters and {@link #stashEntries} are unchanged. A buffered key holding stash
 *       entries is drained in every pass, which covers every pass in which a timer at its first
 *       entry would fire. A key whose state empties (a delete of nothing left) forgets its applied
 *       order key and time as its cleared state would ({@link KeyState#forgetIfEmpty}). Only the
 *       order of updates of different keys within one pass differs; each key's updates stay in
 *       time order and all of them precede the pass's watermark.
 *   <li><b>Timers.</b> A key read with stash entries already has its timer, at its first entry;
 *       that entry only leaves the stash when the timer fires (the stash grows at its end, a
 *       replaced last entry keeps its time), so the buffer records whether a timer exists
 *       ({@code Buffered.timer}) and never registers a second one.
 *   <li><b>Spill.</b> When the buffered keys' estimated heap ({@link #estimate}: key and value
 *       bytes plus a fixed overhead per key and per pending command) exceeds
 *       {@link UpsertOptions#BUFFER_SIZE}, the oldest keys (second chance aside) are written back,
 *       with a timer at their first entry unless they have one: from then on they are plain stashed
 *       keys. At every snapshot the whole buffer spills, so a checkpoint holds what the unbuffered
 *       algorithm would hold and recovery (and rescaling) never needs the buffer.
 *   <li><b>Bounded heap.</b> After every command the buffer's estimate is within the option, in
 *       bytes, so large values cannot blow it up. So the heap is bounded by the option, independent of the input size and of the number of
 *       keys.
 * </ul>
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
 *       forward.
 *   <li>A delete that leaves no value clears the key's state (bounded state for churning keys).
 *       An older command for that key arriving later can only be a replay, which a checkpoint
 *       restore never produces and rehydration drops by offset.
 *   <li>Keyed state is one {@code ValueState<KeyState>} per key: the common path is one state read
 *       when a key enters the buffer and one state write when it leaves. Stashed commands beyond
 *       the bounded buffer live in the state backend (RocksDB in production), not on the heap;
 *       besides the buffer the heap holds only {@link HeldTimes}, sized by distinct held times,
 *       snapshotted in operator state. After a
 *       rescale its snapshot no longer matches the subtask's key groups, so it is rebuilt by one
 *       scan of the keyed state (one pass over the keys, still no O(keys) heap).
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

    private transient Map<Integer, Long> resumePositions;
    private transient ValueState<KeyState> keyStates;
    private transient InternalTimerService<VoidNamespace> timers;
    private transient ListState<long[]> frontiersState;
    private transient HeldTimes held;
    private transient StreamRecord<Update> outRecord;
    /** The buffer: keys whose state is on the heap (and newer than the backend's), in CLOCK order. */
    private transient LinkedHashMap<String, Buffered> buffer;
    /** Estimated heap of the buffered keys ({@link #estimate}); at most {@link #bufferLimit} once a command has been handled. */
    private transient long bufferedBytes;
    private transient long bufferLimit;

    private transient Frontiers frontiers;
    /** During a drain pass: its bound {@code D} and the state frontier it started from. */
    private transient long passBound;
    private transient long passStart;
    private transient long passEligible;
    /** Stash entries that left the stash in this pass: every one held below its bound (checked). */
    private transient long passDrained;

    private transient Counter inserts;
    private transient Counter updates;
    private transient Counter deletes;
    private transient Counter noopUpdates;
    private transient Counter absentDeletes;
    private transient Counter droppedSuperseded;
    private transient Counter droppedBelowResumePosition;
    private transient Counter retimed;
    private transient Counter rehydratedValues;
    private transient long lastDrainEligible;
    private transient long lastDrainIneligible;

    /** A buffered key: its state, its key bytes (for the updates) and the time of its pending timer. */
    private static final class Buffered {
        final KeyState state;
        final byte[] key;
        /**
         * A timer of the key is pending at this time or earlier ({@code Long.MAX_VALUE}: none known):
         * the key had stashed entries when its state was read (their first has a timer), or spilled.
         */
        long timerAt;
        /** Got a command since eviction last looked at it: it gets a second chance (CLOCK). */
        boolean referenced;
        /** Its share of {@code bufferedBytes}. */
        long bytes;

        Buffered(KeyState state, byte[] key) {
            this.state = state;
            this.key = key;
            this.timerAt = state.stash.isEmpty() ? Long.MAX_VALUE : state.stash.get(0).time();
        }
    }

    public UpsertFeedbackOperator(UpsertOptions options) {
        this.options = options;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        // the store's positions only concern an operator without state: a restored one replays
        // from its own checkpointed offsets, and its state never saw what it replays
        resumePositions = context.isRestored() ? Map.of() : options.resumePositions();
        frontiers = new Frontiers(options.leadMillis(), !context.isRestored());
        held = new HeldTimes();
        buffer = new LinkedHashMap<>();
        bufferedBytes = 0;
        bufferLimit = options.bufferSize().getBytes();
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

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        spill(0);
        super.snapshotState(context);
        frontiersState.update(List.of(frontiers.encode(getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks(), held.encode())));
    }

    @Override
    public void open() throws Exception {
        super.open();
        timers = getInternalTimerService(TIMERS_NAME, VoidNamespaceSerializer.INSTANCE, this);
        outRecord = new StreamRecord<>(null);
        registerMetrics(getMetricGroup());
    }

    private void registerMetrics(MetricGroup group) {
        inserts = group.counter("inserts");
        updates = group.counter("updates");
        deletes = group.counter("deletes");
        noopUpdates = group.counter("noopUpdates");
        absentDeletes = group.counter("absentDeletes");
        MetricGroup dropped = group.addGroup("commandsDropped");
        droppedSuperseded = dropped.counter("superseded");
        droppedBelowResumePosition = dropped.counter("belowResumePosition");
        retimed = group.counter("commandsRetimed");
        rehydratedValues = group.counter("rehydratedValues");
        group.gauge("stashEntries", this::stashEntries);
        group.gauge("heldTimes", () -> held.buckets());
        group.gauge("lastDrainEligible", () -> lastDrainEligible);
        group.gauge("lastDrainIneligible", () -> lastDrainIneligible);
        group.gauge("inputFrontier", () -> frontiers.input);
        group.gauge("persistFrontier", () -> frontiers.persist);
        group.gauge("stateFrontier", () -> frontiers.state);
        group.gauge("outputWatermark", () -> frontiers.outputWatermark);
        group.gauge("rehydrating", () -> frontiers.persistKnown() ? 0 : 1);
    }

    /** Commands held in the stash (ineligible or not yet drained); also the {@code stashEntries} gauge. */
    public long stashEntries() {
        return held.size();
    }

    /** Held (partition, time) buckets: the size of the operator's heap bookkeeping. */
    int heldBuckets() {
        return held.buckets();
    }

    /**
     * Estimated heap of the keys in the buffer (at most the buffer size once a command is handled).
     * For tests: also checks that the running total, kept incrementally on the hot path, equals the
     * estimate recomputed from the buffered states.
     */
    long bufferedBytes() {
        long recomputed = buffer.values().stream().mapToLong(UpsertFeedbackOperator::estimate).sum();
        if (recomputed != bufferedBytes) {
            throw new IllegalStateException("buffer estimate drifted: " + bufferedBytes + " kept, " + recomputed + " recomputed");
        }
        return bufferedBytes;
    }

    long droppedSupersededCount() {
        return droppedSuperseded.getCount();
    }

    long droppedBelowResumePositionCount() {
        return droppedBelowResumePosition.getCount();
    }

    long retimedCount() {
        return retimed.getCount();
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
                droppedBelowResumePosition.inc();
                return;
            }
        }
        String flinkKey = (String) getCurrentKey();
        Buffered buffered = buffer.get(flinkKey);
        KeyState state;
        if (buffered != null) {
            buffered.referenced = true;
            state = buffered.state;
        } else {
            state = keyStates.value();
            if (state == null) {
                state = new KeyState();
            }
            buffered = new Buffered(state, command.key());
            buffer.put(flinkKey, buffered);
            resize(buffered, estimate(buffered));
        }
        // the time rule's last step (SPEC 2): never behind the key's previous time in this partition
        long orderTime = Math.max(command.time(), state.lastTimeIn(partition));
        state.noteTime(partition, orderTime);
        frontiers.latestCommand = Math.max(frontiers.latestCommand, orderTime);
        if (!state.isNewerThanApplied(orderTime, partition, offset)) {
            droppedSuperseded.inc();
            spill(bufferLimit);
            return;
        }
        long time = Math.max(orderTime, frontiers.openTime());
        if (time != orderTime) {
            retimed.inc();
        }
        KeyState.Pending pending = new KeyState.Pending(time, orderTime, partition, offset, command.value());
        KeyState.Pending displaced = state.stash(pending);
        if (displaced == pending) {
            droppedSuperseded.inc();
        } else if (displaced != null) {
            resize(buffered, buffered.bytes - pendingBytes(displaced) + pendingBytes(pending));
            if (displaced.partition() == partition) {
                held.replace(time, partition, offset);
            } else {
                held.remove(time, displaced.partition());
                held.add(time, partition, offset);
            }
        } else {
            resize(buffered, buffered.bytes + pendingBytes(pending));
            held.add(time, partition, offset);
        }
        spill(bufferLimit);
    }

    /*
     * Heap estimate of a buffered key: a fixed overhead (map node, key string, Buffered, KeyState,
     * stash list: about 300 bytes on a 64-bit JVM with compressed pointers), the
     * key bytes twice (raw and as the Flink key), its applied value and its pending commands. An
     * order of magnitude, so that the buffer is bounded by bytes whatever the value sizes are.
     */
    private static final int KEY_OVERHEAD = 320;
    private static final int PENDING_OVERHEAD = 64;

    private static long estimate(Buffered buffered) {
        long bytes = KEY_OVERHEAD + 2L * buffered.key.length + valueBytes(buffered.state.value);
        for (KeyState.Pending pending : buffered.state.stash) {
            bytes += pendingBytes(pending);
        }
        return bytes;
    }

    private static long pendingBytes(KeyState.Pending pending) {
        return PENDING_OVERHEAD + valueBytes(pending.value());
    }

    private static long valueBytes(UpsertValue value) {
        return value == null ? 0 : 48L + value.bytes().length + (value.isError() ? 64L + value.error().length() : 0);
    }

    /** Sets a buffered key's share of the buffer's estimated heap. */
    private void resize(Buffered buffered, long bytes) {
        bufferedBytes += bytes - buffered.bytes;
        buffered.bytes = bytes;
    }

    /**
     * Moves the oldest keys (a referenced one gets a second chance at the back) from the buffer to
     * the state backend until at most {@code limit} bytes are buffered (estimated): their state is
     * written and, if they hold stash entries and have no timer yet, a timer is registered at the
     * first. Changes the current key.
     */
    private void spill(long limit) throws Exception {
        while (bufferedBytes > limit) {
            Iterator<Map.Entry<String, Buffered>> eldest = buffer.entrySet().iterator();
            Map.Entry<String, Buffered> entry = eldest.next();
            eldest.remove();
            Buffered buffered = entry.getValue();
            if (buffered.referenced && limit > 0) {
                buffered.referenced = false;
                buffer.put(entry.getKey(), buffered);
                continue;
            }
            List<KeyState.Pending> stash = buffered.state.stash;
            resize(buffered, 0);
            setCurrentKey(entry.getKey());
            if (!stash.isEmpty() && stash.get(0).time() < buffered.timerAt) {
                timers.registerEventTimeTimer(VoidNamespace.INSTANCE, stash.get(0).time());
            }
            write(buffered.state);
        }
    }

    /** Writes a key's state, or clears it when there is nothing worth keeping. */
    private void write(KeyState state) throws Exception {
        if (state.isEmpty()) {
            keyStates.clear();
        } else {
            keyStates.update(state);
        }
    }

    @Override
    public void processElement2(StreamRecord<UpsertCommand> record) throws Exception {
        UpsertCommand prior = record.getValue();
        Buffered buffered = buffer.get((String) getCurrentKey());
        KeyState state = buffered != null ? buffered.state : keyStates.value();
        if (state == null) {
            state = new KeyState();
        }
        state.noteTime(prior.partition(), prior.time());
        if (state.isNewerThanApplied(prior.time(), prior.partition(), prior.offset())) {
            state.setApplied(prior.value(), prior.time(), prior.partition(), prior.offset());
            rehydratedValues.inc();
        }
        if (buffered == null) {
            write(state);
        } else {
            state.forgetIfEmpty();
            resize(buffered, estimate(buffered));
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

    private void advance() throws Exception {
        frontiers.adopt();
        long bound = frontiers.drainBound();
        if (bound > frontiers.state) {
            passBound = bound;
            passStart = frontiers.state;
            passEligible = 0;
            passDrained = 0;
            long due = held.removeBelow(bound);
            timeServiceManager.advanceWatermark(new Watermark(bound - 1));
            if (passDrained < due) {
                drainBuffer();
            }
            if (passDrained != due) {
                throw new IllegalStateException("drain pass to " + bound + " took " + passDrained
                        + " stash entries, but " + due + " were held below it");
            }
            frontiers.state = bound;
            lastDrainEligible = passEligible;
            lastDrainIneligible = held.size();
        }
        long frontier = frontiers.outputFrontier(held.isEmpty() ? Long.MAX_VALUE : held.earliestTime());
        long watermark = Frontiers.toWatermark(frontier);
        if (watermark > frontiers.outputWatermark) {
            output.collect(outRecord.replace(Update.progress(frontier, held.positions()), watermark));
            frontiers.outputWatermark = watermark;
            output.emitWatermark(new Watermark(watermark));
        }
    }

    /**
     * Drains the timer's key. A buffered key stays buffered (its timer is gone; the buffer drain or
     * a spill takes care of what remains); any other is read, drained and written back, with a new
     * timer at its first remaining entry.
     */
    @Override
    public void onEventTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
        Buffered buffered = buffer.get(timer.getKey());
        if (buffered != null) {
            buffered.timerAt = Long.MAX_VALUE;
            resize(buffered, buffered.bytes + drain(buffered.state, buffered.key));
            return;
        }
        KeyState state = keyStates.value();
        if (state == null) {
            return;
        }
        drain(state, timer.getKey().getBytes(StandardCharsets.ISO_8859_1));
        if (!state.stash.isEmpty()) {
            timers.registerEventTimeTimer(VoidNamespace.INSTANCE, state.stash.get(0).time());
        }
        write(state);
    }

    /** Drains the buffered keys with stash entries (after the timers of the pass fired); they stay buffered. */
    private void drainBuffer() {
        for (Buffered buffered : buffer.values()) {
            if (!buffered.state.stash.isEmpty()) {
                resize(buffered, buffered.bytes + drain(buffered.state, buffered.key));
            }
        }
    }

    /**
     * Drains a key's stash entries below the pass bound, in time order; returns the change of the
     * key's heap estimate (for a buffered key).
     */
    private long drain(KeyState state, byte[] key) {
        List<KeyState.Pending> stash = state.stash;
        UpsertValue before = state.value;
        long released = 0;
        int drained = 0;
        while (drained < stash.size() && stash.get(drained).time() < passBound) {
            KeyState.Pending pending = stash.get(drained++);
            released += pendingBytes(pending);
            if (!state.isNewerThanApplied(pending.orderTime(), pending.partition(), pending.offset())) {
                droppedSuperseded.inc();
                continue;
            }
            passEligible++;
            long time = Math.max(pending.time(), passStart);
            if (time != pending.time()) {
                retimed.inc();
            }
            apply(state, key, pending, time);
        }
        if (drained == stash.size()) {
            stash.clear();
        } else {
            stash.subList(0, drained).clear();
        }
        state.forgetIfEmpty();
        passDrained += drained;
        return valueBytes(state.value) - valueBytes(before) - released;
    }

    private void apply(KeyState state, byte[] key, KeyState.Pending pending, long time) {
        UpsertValue prior = state.value;
        UpsertValue next = pending.value();
        int partition = pending.partition();
        long offset = pending.offset();
        if (next == null) {
            if (prior != null) {
                emit(Update.retract(key, prior, time, partition, offset), time);
                deletes.inc();
            } else {
                absentDeletes.inc();
            }
        } else if (next.equals(prior)) {
            noopUpdates.inc();
        } else {
            if (prior != null) {
                emit(Update.retract(key, prior, time, partition, offset), time);
                updates.inc();
            } else {
                inserts.inc();
            }
            emit(Update.insert(key, next, time, partition, offset), time);
        }
        state.setApplied(next, pending.orderTime(), partition, offset);
    }

    private void emit(Update update, long time) {
        output.collect(outRecord.replace(update, time));
    }

    @Override
    public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) {
        throw new IllegalStateException("the upsert feedback operator registers no processing-time timers");
    }
}
