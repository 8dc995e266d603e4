package io.upsertfeedback.connectors.store.memory;

import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.LeaseWatch;
import io.upsertfeedback.connectors.store.PersistFrontier;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A {@link PersistFrontier} in memory with the Bigtable frontier's contract: per-subtask columns
 * holding the token of the attempt that owns them, folds on a new epoch or parallelism, leases
 * between jobs decided by {@link LeaseWatch}, and every lease write conditioned on its column.
 */
public final class InMemoryFrontier implements PersistFrontier {
    private record Column(String token, FrontierState state) {}

    private String owner;
    private long leaseMillis;
    private int parallelism;
    private final TreeMap<Integer, Column> columns = new TreeMap<>();
    private final Map<Integer, Long> heartbeats = new HashMap<>();
    private long beats;

    @Override
    public synchronized FrontierState read() {
        return FrontierState.fold(columns.values().stream().map(Column::state).toList());
    }

    @Override
    public synchronized LeaseWatch.Observation observeLease() {
        return new LeaseWatch.Observation(owner, Duration.ofMillis(leaseMillis), new HashMap<>(heartbeats));
    }

    @Override
    public Lease claim(String epoch, Set<String> predecessors, int subtask, int n, Duration lease) throws IOException {
        String silent = null; // a holder watched for a whole lease without a heartbeat
        while (true) {
            LeaseWatch.Observation held;
            synchronized (this) {
                held = observeLease();
                if (epoch.equals(owner) || held.free() || predecessors.contains(owner) || owner.equals(silent)) {
                    return claimNow(epoch, subtask, n, lease);
                }
            }
            if (LeaseWatch.alive(this::observeLease, held)) { // watched without the lock: heartbeats go on meanwhile
                throw new FencedException("store in memory is being written by another job (writer epoch " + held.owner() + ")");
            }
            silent = held.owner();
        }
    }

    private Lease claimNow(String epoch, int subtask, int n, Duration lease) {
        String token = epoch + "/" + subtask + "/" + UUID.randomUUID();
        long now = beat();
        if (!epoch.equals(owner) || parallelism != n || !columns.containsKey(subtask)) {
            FrontierState folded = read();
            columns.clear();
            heartbeats.clear();
            for (int i = 0; i < n; i++) {
                columns.put(i, new Column(i == subtask ? token : epoch + "/" + i + "/unclaimed", folded));
                heartbeats.put(i, now);
            }
            owner = epoch;
            leaseMillis = lease.toMillis();
            parallelism = n;
        } else {
            columns.put(subtask, new Column(token, columns.get(subtask).state()));
            heartbeats.put(subtask, now);
        }
        return new MemoryLease(subtask, token);
    }

    /** A heartbeat value: it only has to differ from the previous one (never 0, which is a release). */
    private long beat() {
        return ++beats;
    }

    private final class MemoryLease implements Lease {
        private final int subtask;
        private final String token;

        MemoryLease(int subtask, String token) {
            this.subtask = subtask;
            this.token = token;
        }

        private Column held() throws FencedException {
            Column c = columns.get(subtask);
            if (c == null || !c.token().equals(token)) {
                throw new FencedException("subtask " + subtask + "'s frontier was taken over by "
                        + (c == null ? "a rescale" : "writer " + c.token()) + "; this writer (" + token + ") stops");
            }
            return c;
        }

        @Override
        public void advance(FrontierState state) throws FencedException {
            synchronized (InMemoryFrontier.this) {
                if (state.p() >= held().state().p()) {
                    columns.put(subtask, new Column(token, state));
                    heartbeats.put(subtask, beat());
                }
            }
        }

        @Override
        public void heartbeat() throws FencedException {
            synchronized (InMemoryFrontier.this) {
                held();
                heartbeats.put(subtask, beat());
            }
        }

        @Override
        public void release() throws FencedException {
            synchronized (InMemoryFrontier.this) {
                held();
                heartbeats.put(subtask, 0L);
            }
        }
    }

    @Override
    public void close() { }
}
