package io.upsertfeedback.operators;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The time rule of SPEC section 2, its per-partition part: a command's time is
 * {@code max(record time, the partition's watermark at that offset)}, the partition's watermark
 * being the running maximum of its record times minus the out-of-orderness bound, rounded up to a
 * tick (the key's previous time in the partition, the rule's last part, is applied by the
 * operator, which holds the key's state). Record times arrive already coarsened to a tick.
 *
 * <p>Why: the time is then a function of the partition's records alone, so a replay after any
 * failure assigns every command the time the failed attempt assigned, whatever the timing of
 * watermarks, feedback and checkpoints; and a command is never behind the input frontier, which
 * is at most the partition's watermark, so the operator never has to retime it by arrival.
 *
 * <p>Chained right after the Kafka source (same parallelism, forward), it sees each partition's
 * records in offset order. The running maxima are operator list state, one
 * {@code [partition, running max]} entry per partition read, checkpointed with the source's
 * offsets: a restore at the same parallelism gives each subtask back its own entries, as the Kafka
 * source gives it back its own partitions, so the replay's times are the failed attempt's. Not
 * union state: Flink cannot checkpoint union state once some subtasks of a bounded job finished.
 * The cost: after a rescale a partition may be read by a subtask that did not get its entry; its
 * maximum then restarts from the records read (times stay monotone per key through the
 * operator's per-key rule, but a record may get a lower time than a failed attempt gave it). A
 * job that starts without a checkpoint (rehydration) starts them at its resume positions.
 * Watermarks pass through.
 */
public final class CommandTimes extends AbstractStreamOperator<UpsertCommand>
        implements OneInputStreamOperator<UpsertCommand, UpsertCommand> {
    private static final long serialVersionUID = 1L;
    /** Operator name and uid (its state holds the running maxima). */
    public static final String NAME = "command-times";
    private static final String STATE_NAME = "partition-running-max";
    private static final long NONE = Long.MIN_VALUE;

    private final long tickMillis;
    private final long outOfOrdernessMillis;
    private transient long[] runningMax;
    private transient ListState<long[]> state;

    /**
     * @param tickMillis           {@code upsert.tick} in ms, at least 1
     * @param outOfOrdernessMillis the source's out-of-orderness bound in ms, at least 0
     */
    public CommandTimes(long tickMillis, long outOfOrdernessMillis) {
        if (tickMillis < 1 || outOfOrdernessMillis < 0) {
            throw new IllegalArgumentException("tick must be >= 1 ms and out-of-orderness >= 0 ms, got " + tickMillis
                    + " and " + outOfOrdernessMillis);
        }
        this.tickMillis = tickMillis;
        this.outOfOrdernessMillis = outOfOrdernessMillis;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        runningMax = new long[0];
        state = context.getOperatorStateStore().getListState(
                new ListStateDescriptor<>(STATE_NAME, PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO));
        for (long[] entry : state.get()) {
            raise((int) entry[0], entry[1]);
        }
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<long[]> entries = new ArrayList<>();
        for (int partition = 0; partition < runningMax.length; partition++) {
            if (runningMax[partition] != NONE) {
                entries.add(new long[] {partition, runningMax[partition]});
            }
        }
        state.update(entries);
    }

    @Override
    public void processElement(StreamRecord<UpsertCommand> record) {
        UpsertCommand command = record.getValue();
        long time = timeOf(command.partition(), command.time());
        raise(command.partition(), command.time());
        output.collect(record.replace(command.withTime(time), time));
    }

    /** The command's time: its record time, not behind the partition's watermark before it. */
    private long timeOf(int partition, long recordTime) {
        long max = partition < runningMax.length ? runningMax[partition] : NONE;
        if (max == NONE) {
            return recordTime;
        }
        return Math.max(recordTime, roundUpToTick(max - outOfOrdernessMillis));
    }

    private long roundUpToTick(long time) {
        long floor = Math.floorDiv(time, tickMillis) * tickMillis;
        return floor == time ? time : floor + tickMillis;
    }

    private void raise(int partition, long time) {
        if (partition < 0) {
            throw new IllegalArgumentException("source partitions are non-negative, got " + partition);
        }
        if (partition >= runningMax.length) {
            int old = runningMax.length;
            runningMax = Arrays.copyOf(runningMax, Math.max(partition + 1, 2 * old));
            Arrays.fill(runningMax, old, runningMax.length, NONE);
        }
        runningMax[partition] = Math.max(runningMax[partition], time);
    }
}
