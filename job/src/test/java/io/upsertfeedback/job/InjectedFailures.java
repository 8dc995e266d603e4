package io.upsertfeedback.job;

import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.TierWrapper;
import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.UpsertCommand;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.streaming.api.datastream.DataStream;

import java.io.IOException;
import java.io.Serializable;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Failures injected into a running job at planned points, through {@link Pipeline.Hooks} only
 * (each hook wraps a real part; production code has no test branches):
 * <ul>
 *   <li>{@link Point#SOURCE}: a map chained behind the Kafka source fails the source's task;</li>
 *   <li>{@link Point#OPERATOR}: a map chained behind the upsert feedback operator fails the operator's task;</li>
 *   <li>{@link Point#SINK}: the sink's long-term tier writes the object, then the call fails
 *       permanently: the sink dies between the long-term write and the tombstone swap.</li>
 * </ul>
 * Each point fails once at each planned threshold of its count of events (commands, updates,
 * long-term writes; replays after a restart count too), at the first event or checkpoint
 * notification at or past it once a checkpoint has completed: every restart then restores a
 * checkpoint (a restart with none is a fresh start from the store, i.e. rehydration, which
 * {@code RehydrationTest} covers). The counts live in this JVM (the MiniCluster runs here) under
 * the plan's name, so they survive the job's restarts.
 */
final class InjectedFailures implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Map<String, State> STATES = new ConcurrentHashMap<>();

    enum Point { SOURCE, OPERATOR, SINK }

    private static final class State {
        final Map<Point, long[]> thresholds = new EnumMap<>(Point.class);
        final Map<Point, AtomicLong> counts = new EnumMap<>(Point.class);
        final Map<Point, AtomicInteger> next = new EnumMap<>(Point.class);
        final AtomicInteger fired = new AtomicInteger();
        volatile boolean armed;
    }

    private final String name;

    private InjectedFailures(String name) {
        this.name = name;
    }

    /**
     * A plan named {@code name}: for each point, {@code perPoint} thresholds drawn from
     * {@code random} below that point's {@code limits} entry (the events it will at least see).
     */
    static InjectedFailures plan(String name, Random random, int perPoint, Map<Point, Long> limits) {
        State state = new State();
        for (Point point : Point.values()) {
            long limit = limits.getOrDefault(point, 0L);
            long[] t = new long[limit > 0 ? perPoint : 0];
            for (int i = 0; i < t.length; i++) {
                t[i] = 1 + (long) (random.nextDouble() * limit);
            }
            Arrays.sort(t);
            state.thresholds.put(point, t);
            state.counts.put(point, new AtomicLong());
            state.next.put(point, new AtomicInteger());
        }
        STATES.put(name, state);
        return new InjectedFailures(name);
    }

    /** Failures injected so far. */
    int fired() {
        return STATES.get(name).fired.get();
    }

    String describe() {
        StringBuilder s = new StringBuilder();
        State state = STATES.get(name);
        state.thresholds.forEach((p, t) -> s.append(p).append(" at ").append(Arrays.toString(t))
                .append(" (seen ").append(state.counts.get(p)).append("); "));
        return s.toString();
    }

    /** Counts one event at {@code point}, then {@link #check}s it. */
    private void count(Point point) {
        check(point, STATES.get(name).counts.get(point).incrementAndGet());
    }

    /** Throws if a checkpoint has completed and {@code point}'s next threshold is at or below {@code n}. */
    private void check(Point point, long n) {
        State state = STATES.get(name);
        long[] thresholds = state.thresholds.get(point);
        AtomicInteger next = state.next.get(point);
        int i = next.get();
        if (state.armed && i < thresholds.length && n >= thresholds[i] && next.compareAndSet(i, i + 1)) {
            int k = state.fired.incrementAndGet();
            throw new InjectedFailure("injected failure #" + k + " at " + point + " (event " + n + ")");
        }
    }

    private void checkpointCompleted(Point point) {
        State state = STATES.get(name);
        state.armed = true;
        check(point, state.counts.get(point).get());
    }

    /** The job's hooks with every point in place. */
    Pipeline.Hooks hooks() {
        return new Pipeline.Hooks(this::afterSource, this::beforeSink, new FailingLongTerm(this));
    }

    private DataStream<UpsertCommand> afterSource(DataStream<UpsertCommand> commands) {
        return commands.map(new Fail<UpsertCommand>(this, Point.SOURCE)).returns(commands.getType())
                .name("inject-source-failures").setParallelism(commands.getParallelism());
    }

    private DataStream<Update> beforeSink(DataStream<Update> updates) {
        return updates.map(new Fail<Update>(this, Point.OPERATOR)).returns(updates.getType())
                .name("inject-operator-failures").setParallelism(updates.getParallelism());
    }

    static final class InjectedFailure extends RuntimeException {
        InjectedFailure(String message) {
            super(message);
        }
    }

    private record Fail<T>(InjectedFailures plan, Point point) implements MapFunction<T, T>, CheckpointListener {
        @Override
        public T map(T value) {
            if (!(value instanceof Update u) || !u.isProgress()) {
                plan.count(point);
            }
            return value;
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            plan.checkpointCompleted(point);
        }
    }

    /** Wraps the sink's long-term tier: at a threshold, {@code write} stores the object and then fails permanently. */
    private record FailingLongTerm(InjectedFailures plan) implements TierWrapper {
        @Override
        public LongTermTier longTerm(LongTermTier tier) {
            return (LongTermTier) Proxy.newProxyInstance(LongTermTier.class.getClassLoader(), new Class<?>[] {LongTermTier.class},
                    (proxy, method, args) -> {
                        Object result;
                        try {
                            result = method.invoke(tier, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                        if (method.getName().equals("write")) {
                            try {
                                plan.count(Point.SINK);
                            } catch (InjectedFailure f) {
                                throw new IOException("sink crashed after the long-term write, before the tombstone swap: "
                                        + f.getMessage());
                            }
                        }
                        return result;
                    });
        }
    }
}
