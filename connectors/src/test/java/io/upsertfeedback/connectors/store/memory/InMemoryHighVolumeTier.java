package io.upsertfeedback.connectors.store.memory;

import io.upsertfeedback.connectors.store.CloseableIterator;
import io.upsertfeedback.connectors.store.HighVolumeTier;
import io.upsertfeedback.connectors.store.PendingCleanup;
import io.upsertfeedback.connectors.store.RowState;
import io.upsertfeedback.connectors.store.StoredRow;
import io.upsertfeedback.connectors.store.TieredStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * A {@link HighVolumeTier} in memory: a real backend for tests that need no emulator, passing the
 * same conformance suite as Bigtable. Each row keeps its states as versions by time (the Bigtable
 * tier's cell timestamps, with the same clamping), reads the latest, and compare-and-write compares
 * the latest state exactly: the same contract, in one lock. {@link #close} keeps the data, so
 * several stores of one test can share an instance.
 */
public final class InMemoryHighVolumeTier implements HighVolumeTier {
    private static final long MAX_TS = 1L << 52;

    private final String name;
    private final TreeMap<byte[], NavigableMap<Long, RowState>> rows = new TreeMap<>(Arrays::compareUnsigned);
    private final TreeMap<String, PendingCleanup> notes = new TreeMap<>();

    public InMemoryHighVolumeTier(String name) {
        this.name = name;
    }

    private static byte[] checked(byte[] key) {
        if (key.length > TieredStore.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("key of " + key.length + " bytes exceeds the store's limit of "
                    + TieredStore.MAX_KEY_BYTES + " bytes");
        }
        return key.clone();
    }

    private static long ts(RowState s) {
        return Math.max(0, Math.min(s.time(), MAX_TS));
    }

    private RowState latest(byte[] key) {
        NavigableMap<Long, RowState> versions = rows.get(key);
        return versions == null || versions.isEmpty() ? RowState.ABSENT : versions.lastEntry().getValue();
    }

    @Override
    public synchronized RowState read(byte[] key) {
        return latest(checked(key));
    }

    @Override
    public synchronized void putAll(List<StoredRow> batch) {
        for (StoredRow r : batch) {
            if (r.state().kind() != RowState.Kind.INLINE && r.state().kind() != RowState.Kind.DELETED) {
                throw new IllegalArgumentException("a plain write only writes inline values and deletion markers, not " + r.state());
            }
            rows.computeIfAbsent(checked(r.key()), k -> new TreeMap<>()).put(ts(r.state()), r.state());
        }
    }

    @Override
    public synchronized boolean compareAndWrite(byte[] key, RowState expected, RowState next) {
        byte[] k = checked(key);
        RowState current = latest(k);
        if (!current.equals(expected) || current.fence() != expected.fence()) {
            return current.sameWrite(next);
        }
        NavigableMap<Long, RowState> versions = rows.computeIfAbsent(k, x -> new TreeMap<>());
        versions.headMap(ts(next), false).clear();
        versions.put(ts(next), next);
        return true;
    }

    @Override
    public synchronized boolean removeMarker(byte[] key, RowState marker) {
        if (marker.kind() != RowState.Kind.DELETED) {
            throw new IllegalArgumentException("only a deletion marker is removed, not " + marker);
        }
        byte[] k = checked(key);
        RowState current = latest(k);
        if (!current.equals(marker) || current.fence() != marker.fence()) {
            return false;
        }
        rows.remove(k);
        return true;
    }

    @Override
    public synchronized CloseableIterator<StoredRow> scan(byte[] afterKey) {
        List<StoredRow> out = new ArrayList<>();
        for (Map.Entry<byte[], NavigableMap<Long, RowState>> e : (afterKey == null ? rows : rows.tailMap(afterKey, false)).entrySet()) {
            if (!e.getValue().isEmpty()) {
                out.add(new StoredRow(e.getKey().clone(), e.getValue().lastEntry().getValue()));
            }
        }
        Iterator<StoredRow> it = out.iterator();
        return new CloseableIterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public StoredRow next() {
                return it.next();
            }

            @Override
            public void close() { }
        };
    }

    @Override
    public synchronized void addPending(List<PendingCleanup> batch) {
        batch.forEach(n -> notes.put(n.id(), n));
    }

    @Override
    public synchronized void removePending(PendingCleanup note) {
        notes.remove(note.id());
    }

    @Override
    public synchronized List<PendingCleanup> listPending() {
        return List.copyOf(notes.values());
    }

    @Override
    public void flush() { }

    @Override
    public String describe() {
        return "in-memory table " + name;
    }

    @Override
    public void close() { }
}
