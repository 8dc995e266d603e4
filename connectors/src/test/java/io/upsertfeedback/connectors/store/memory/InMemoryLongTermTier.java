package io.upsertfeedback.connectors.store.memory;

import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.RevisionNames;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A {@link LongTermTier} in memory, under the shared {@link RevisionNames}: a write of an existing
 * name is a retry and must carry the same bytes. {@link #close} keeps the objects, so several
 * stores of one test can share an instance.
 */
public final class InMemoryLongTermTier implements LongTermTier {
    private final ConcurrentSkipListMap<String, byte[]> objects = new ConcurrentSkipListMap<>();

    @Override
    public String newObjectName(byte[] key) {
        return RevisionNames.newName(key);
    }

    @Override
    public void write(String name, byte[] data) throws IOException {
        byte[] before = objects.putIfAbsent(name, data.clone());
        if (before != null && !Arrays.equals(before, data)) {
            throw new IOException("object " + name + " already exists with other content: revisions are never overwritten");
        }
    }

    @Override
    public byte[] read(String name) {
        byte[] b = objects.get(name);
        return b == null ? null : b.clone();
    }

    @Override
    public void delete(String name) {
        objects.remove(name);
    }

    @Override
    public List<String> list() {
        return List.copyOf(objects.keySet());
    }

    @Override
    public String describe() {
        return "in-memory objects";
    }

    @Override
    public void close() { }
}
