package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Fault injection around a real tier: a dynamic proxy over {@link HighVolumeTier},
 * {@link LongTermTier} or {@link PersistFrontier} that consults a {@link Plan} before each storage call. A fault either
 * fails the call before it reaches the tier (transient or permanent), or runs it and then loses the
 * response (the effect happened, the caller sees a transient error), or "crashes" the process: the
 * call (optionally after running it) and every later call on every tier sharing the plan fail.
 * A hook can also run another writer's operation right before a chosen call (a lost race).
 */
public final class Faults {
    /** Calls that reach storage; everything else (names, listing, close) passes through. */
    private static final Set<String> STORAGE_CALLS = Set.of("read", "putAll", "compareAndWrite", "fence", "addPending",
            "removePending", "listPending", "write", "delete", "advance", "heartbeat");

    private Faults() {}

    public enum Kind { NONE, TRANSIENT, PERMANENT, LOST_RESPONSE, CRASH_BEFORE, CRASH_AFTER }

    @FunctionalInterface
    public interface Hook {
        void run() throws Exception;
    }

    /** Sees the arguments of a call before it is made. */
    @FunctionalInterface
    public interface Observer {
        void see(Object[] args) throws Exception;
    }

    /** Decides the fault of each call. Thread-safe. */
    public static final class Plan {
        private final List<Rule> rules = new ArrayList<>();
        private Random random;
        private double probability;
        private boolean crashed;
        private final List<String> calls = new ArrayList<>();
        private final java.util.Map<String, Observer> observers = new java.util.HashMap<>();

        private record Rule(String method, int skip, Kind kind, Hook hook, int[] seen) {}

        /** The {@code skip}-th next call (0 = next) of {@code method} gets {@code kind}. */
        public synchronized Plan on(String method, int skip, Kind kind) {
            rules.add(new Rule(method, skip, kind, null, new int[1]));
            return this;
        }

        /** Runs {@code hook} once, right before the next call of {@code method}. */
        public synchronized Plan before(String method, Hook hook) {
            rules.add(new Rule(method, 0, Kind.NONE, hook, new int[1]));
            return this;
        }

        /** Runs {@code observer} before every call of {@code method}, with the call's arguments. */
        public synchronized Plan beforeEach(String method, Observer observer) {
            observers.put(method, observer);
            return this;
        }

        private synchronized Observer observer(String method) {
            return observers.get(method);
        }

        /** Each call independently: a transient failure or a lost response with {@code probability}. */
        public synchronized Plan random(Random random, double probability) {
            this.random = random;
            this.probability = probability;
            return this;
        }

        public synchronized boolean crashed() {
            return crashed;
        }

        public synchronized List<String> calls() {
            return List.copyOf(calls);
        }

        private synchronized Decision decide(String method) {
            calls.add(method);
            if (crashed) {
                return new Decision(Kind.CRASH_BEFORE, null);
            }
            for (int i = 0; i < rules.size(); i++) {
                Rule r = rules.get(i);
                if (r.method.equals(method) && r.seen[0]++ == r.skip) {
                    rules.remove(i);
                    if (r.kind == Kind.CRASH_BEFORE) {
                        crashed = true;
                    }
                    return new Decision(r.kind, r.hook);
                }
            }
            if (random != null && random.nextDouble() < probability) {
                return new Decision(random.nextBoolean() ? Kind.TRANSIENT : Kind.LOST_RESPONSE, null);
            }
            return new Decision(Kind.NONE, null);
        }

        private synchronized void crashNow() {
            crashed = true;
        }
    }

    private record Decision(Kind kind, Hook hook) {}

    @SuppressWarnings("unchecked")
    public static <T> T wrap(Class<T> type, T real, Plan plan) {
        InvocationHandler handler = (proxy, method, args) -> {
            if (!STORAGE_CALLS.contains(method.getName())) {
                return invoke(method, real, args);
            }
            Observer observer = plan.observer(method.getName());
            if (observer != null) {
                try {
                    observer.see(args);
                } catch (Exception e) {
                    throw new AssertionError("fault observer failed", e);
                }
            }
            Decision d = plan.decide(method.getName());
            if (d.hook != null) {
                try {
                    d.hook.run();
                } catch (Exception e) {
                    throw new AssertionError("fault hook failed", e);
                }
            }
            switch (d.kind) {
                case TRANSIENT -> throw new TransientStorageException("injected transient failure of " + method.getName());
                case PERMANENT -> throw new IOException("injected permanent failure of " + method.getName());
                case CRASH_BEFORE -> throw new IOException("injected crash at " + method.getName());
                default -> { }
            }
            Object result = invoke(method, real, args);
            if (d.kind == Kind.LOST_RESPONSE) {
                throw new TransientStorageException("injected lost response of " + method.getName());
            }
            if (d.kind == Kind.CRASH_AFTER) {
                plan.crashNow();
                throw new IOException("injected crash after " + method.getName());
            }
            return result;
        };
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler);
    }

    private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
