package io.upsertfeedback.bench;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertFeedback;
import io.upsertfeedback.operators.UpsertOptions;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

/**
 * The operator alone, without Kafka: a MiniCluster job, generated commands (the BENCH.md shape:
 * N commands over K keys, 100-byte values, 10% deletes, increasing times, 2 partitions, one per
 * source subtask, each key in one partition), keyBy, then one contender, then a discarding sink.
 * Contenders, run interleaved in one JVM so their ratios hold under machine load:
 * <ul>
 *   <li>{@code ours}: the upsert feedback operator with no feedback (1 ms tick and lead);</li>
 *   <li>{@code valuestate}: a plain {@code ValueState<byte[]>} upsert emitting the same updates;</li>
 *   <li>{@code map}: keyBy plus a stateless map (the ceiling of this job shape).</li>
 * </ul>
 * Arguments: {@code --commands=2000000 --keys=200000 --parallelism=2 --rounds=2
 * --contenders=ours,valuestate,map --buffer=<upsert.buffer.size> --flink.<key>=<value>...}. Prints one line per run with the
 * records/s from job start to end, and per CPU second of this process (steadier under machine load).
 */
public final class OperatorProbe {
    public static void main(String[] args) throws Exception {
        Map<String, String> options = new java.util.HashMap<>();
        for (String arg : args) {
            String[] kv = arg.replaceFirst("^--", "").split("=", 2);
            options.put(kv[0], kv.length > 1 ? kv[1] : "true");
        }
        long commands = Long.parseLong(options.getOrDefault("commands", "2000000"));
        int keys = Integer.parseInt(options.getOrDefault("keys", "200000"));
        int parallelism = Integer.parseInt(options.getOrDefault("parallelism", "2"));
        int rounds = Integer.parseInt(options.getOrDefault("rounds", "2"));
        String[] contenders = options.getOrDefault("contenders", "ours,valuestate,map").split(",");
        UpsertOptions upsertOptions = UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(Duration.ofMillis(1));
        if (options.containsKey("buffer")) {
            upsertOptions = upsertOptions.withBufferSize(MemorySize.parse(options.get("buffer")));
        }
        UpsertOptions ours = upsertOptions;
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        options.forEach((k, v) -> {
            if (k.startsWith(FlinkContender.FLINK_OPTION_PREFIX)) {
                conf.setString(k.substring(FlinkContender.FLINK_OPTION_PREFIX.length()), v);
            }
        });
        for (int round = 0; round < rounds; round++) {
            for (String contender : contenders) {
                StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
                DataStream<UpsertCommand> input = commands(env, commands, keys, parallelism);
                switch (contender) {
                    case "ours" -> UpsertFeedback.apply(input, UpsertFeedback.noFeedback(env),
                                    ours)
                            .sinkTo(new DiscardingSink<>());
                    case "valuestate" -> input.keyBy(UpsertCommand::flinkKey, Types.STRING)
                            .process(new ValueStateUpsert(), UpdateSerializer.TYPE_INFO).sinkTo(new DiscardingSink<>());
                    case "map" -> input.keyBy(UpsertCommand::flinkKey, Types.STRING)
                            .map(c -> Update.insert(c.key(), c.value() == null ? EMPTY : c.value(), c.time(), c.partition(), c.offset()),
                                    UpdateSerializer.TYPE_INFO)
                            .sinkTo(new DiscardingSink<>());
                    default -> throw new IllegalArgumentException("unknown contender " + contender);
                }
                long start = System.nanoTime();
                long cpuStart = OS.getProcessCpuTime();
                env.execute(contender);
                long ms = (System.nanoTime() - start) / 1_000_000;
                long cpuMs = (OS.getProcessCpuTime() - cpuStart) / 1_000_000;
                System.out.printf("PROBE round=%d contender=%s ms=%d recPerSec=%d cpuMs=%d recPerCpuSec=%d load=%.1f%n", round, contender,
                        ms, commands * 1000 / ms, cpuMs, commands * 1000 / cpuMs, OS.getSystemLoadAverage());
            }
        }
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    private static final UpsertValue EMPTY = UpsertValue.of(new byte[0]);

    /** Partition p = source subtask p; key {@code k<number>}, number of the key's partition parity; time = local index / 100. */
    static DataStream<UpsertCommand> commands(StreamExecutionEnvironment env, long commands, int keys, int parallelism) {
        long perPartition = commands / parallelism;
        return env.fromSequence(0, perPartition * parallelism - 1)
                .map(i -> {
                    int partition = (int) (i / perPartition);
                    long offset = i % perPartition;
                    long h = mix(i);
                    int keyNumber = (int) Math.floorMod(h, (long) (keys / parallelism)) * parallelism + partition;
                    byte[] key = String.format("k%09d", keyNumber).getBytes();
                    long time = offset / 100;
                    if (Math.floorMod(h >>> 20, 10L) == 0) {
                        return UpsertCommand.delete(key, partition, offset, time);
                    }
                    byte[] value = new byte[100];
                    Arrays.fill(value, (byte) ('a' + Math.floorMod(h >>> 30, 26L)));
                    return UpsertCommand.put(key, UpsertValue.of(value), partition, offset, time);
                }, UpsertCommandSerializer.TYPE_INFO)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<UpsertCommand>forMonotonousTimestamps()
                        .withTimestampAssigner((c, ts) -> c.time()));
    }

    private static long mix(long x) {
        x = (x ^ (x >>> 33)) * 0xff51afd7ed558ccdL;
        x = (x ^ (x >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return x ^ (x >>> 33);
    }

    /** The plain upsert: one ValueState read and one write (or clear) per command, retraction + insert. */
    static final class ValueStateUpsert extends KeyedProcessFunction<String, UpsertCommand, Update> {
        private transient ValueState<byte[]> state;

        @Override
        public void open(OpenContext context) {
            state = getRuntimeContext().getState(new ValueStateDescriptor<>("value", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
        }

        @Override
        public void processElement(UpsertCommand c, Context ctx, Collector<Update> out) throws Exception {
            byte[] prior = state.value();
            UpsertValue next = c.value();
            if (next != null && prior != null && Arrays.equals(prior, next.bytes())) {
                return;
            }
            if (prior != null) {
                out.collect(Update.retract(c.key(), UpsertValue.of(prior), c.time(), c.partition(), c.offset()));
            }
            if (next == null) {
                state.clear();
            } else {
                state.update(next.bytes());
                out.collect(Update.insert(c.key(), next, c.time(), c.partition(), c.offset()));
            }
        }
    }
}
