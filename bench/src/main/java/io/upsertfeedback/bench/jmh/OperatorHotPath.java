package io.upsertfeedback.bench.jmh;

import io.upsertfeedback.operators.KeyState;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedbackOperator;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.UpsertValue;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The operator's hot path on RocksDB, through Flink's keyed two-input test harness (no network,
 * no source): the feedback input has ended (no store), 1 ms tick, 100-byte values, uniform keys.
 * <ul>
 *   <li>{@link #stash}: one command into the stash, no drain: into the write-back buffer (a state
 *       read when its key enters it) and, once the buffer is full, spills (a state write and a
 *       timer per key leaving it);</li>
 *   <li>{@link #stashAndDrain}: batches of {@value #BATCH} commands at distinct times, each batch
 *       then drained by one watermark; per command (stash + drain - stash = the drain's cost);</li>
 *   <li>{@link #stateLookup}: one read of a key's state ({@code KeyState}: applied value and stash)
 *       from RocksDB, every key holding a value (written through an operator without a buffer).</li>
 * </ul>
 * Run alone with {@code ./bench/run.sh jmh}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
        "--add-opens", "java.base/java.util=ALL-UNNAMED"})
public class OperatorHotPath {
    static final int BATCH = 1_000;
    /** The name of the operator's keyed state (package-private in the operator; checked in {@link Populated#setUp}). */
    static final String KEY_STATE_NAME = "upsert-key-state";

    /** A fresh operator on RocksDB per iteration, and a key space to draw commands from. */
    @State(Scope.Thread)
    public static class Operator {
        final byte[][] keys = new byte[1_000_000][];
        final UpsertValue value;
        final SplittableRandom random = new SplittableRandom(42);
        KeyedTwoInputStreamOperatorTestHarness<String, UpsertCommand, UpsertCommand, Update> harness;
        long offset;
        long time;

        public Operator() {
            for (int i = 0; i < keys.length; i++) {
                keys[i] = String.format("k%07d", i).getBytes();
            }
            byte[] bytes = new byte[100];
            Arrays.fill(bytes, (byte) 'v');
            value = UpsertValue.of(bytes);
        }

        int keySpace() {
            return keys.length;
        }

        UpsertOptions options() {
            return UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(Duration.ofMillis(1));
        }

        @Setup(Level.Iteration)
        public void setUp() throws Exception {
            harness = new KeyedTwoInputStreamOperatorTestHarness<>(new UpsertFeedbackOperator(options()),
                    UpsertCommand::flinkKey, UpsertCommand::flinkKey, Types.STRING);
            EmbeddedRocksDBStateBackend rocksDb = new EmbeddedRocksDBStateBackend();
            // The harness' mock environment has almost no managed memory: RocksDB's own defaults instead.
            rocksDb.getMemoryConfiguration().setUseManagedMemory(false);
            harness.setStateBackend(rocksDb);
            harness.open();
            harness.processWatermark2(Watermark.MAX_WATERMARK);
            offset = 0;
            time = 0;
        }

        void stash(int keyIndex) throws Exception {
            UpsertCommand command = UpsertCommand.put(keys[keyIndex], value, 0, offset++, ++time);
            harness.processElement1(new StreamRecord<>(command, command.time()));
        }

        void drain() throws Exception {
            harness.processWatermark1(new Watermark(time));
            harness.getOutput().clear();
        }

        @TearDown(Level.Iteration)
        public void tearDown() throws Exception {
            harness.close();
        }
    }

    /** An operator whose every key of a 100k key space holds a value. */
    @State(Scope.Thread)
    public static class Populated extends Operator {
        static final int KEYS = 100_000;
        ValueState<KeyState> state;
        KeyedStateBackend<String> backend;

        @Override
        int keySpace() {
            return KEYS;
        }

        /** No buffer: every key's state is written to RocksDB as soon as its command is handled. */
        @Override
        UpsertOptions options() {
            return super.options().withBufferSize(MemorySize.ZERO);
        }

        @Override
        @Setup(Level.Iteration)
        public void setUp() throws Exception {
            super.setUp();
            for (int i = 0; i < KEYS; i++) {
                stash(i);
            }
            drain();
            backend = harness.getOperator().getKeyedStateBackend();
            state = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                    new ValueStateDescriptor<>(KEY_STATE_NAME, KeyState.Serializer.INSTANCE));
            backend.setCurrentKey(UpsertCommand.keyOf(keys[0]));
            if (state.value() == null) {
                throw new IllegalStateException("the operator's keyed state is no longer named " + KEY_STATE_NAME);
            }
        }
    }

    @Benchmark
    public void stash(Operator op) throws Exception {
        op.stash(op.random.nextInt(op.keySpace()));
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void stashAndDrain(Operator op) throws Exception {
        for (int i = 0; i < BATCH; i++) {
            op.stash(op.random.nextInt(op.keySpace()));
        }
        op.drain();
    }

    @Benchmark
    public KeyState stateLookup(Populated op) throws Exception {
        op.backend.setCurrentKey(UpsertCommand.keyOf(op.keys[op.random.nextInt(Populated.KEYS)]));
        return op.state.value();
    }
}
