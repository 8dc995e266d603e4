package io.upsertfeedback.job;

import io.upsertfeedback.operators.Update;
import io.upsertfeedback.operators.serialization.UpdateSerializer;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exactly-once test sink of the operator's changelog: each writer hands the data updates it
 * received since the last checkpoint to Flink's committer as one batch with a unique id; batches
 * are published under the sink's name only once their checkpoint completed (a batch re-committed
 * after a restore is recognised by its id), so updates a failed attempt emitted after its last
 * checkpoint never appear: what is published is the changelog a failure-free run would show.
 */
final class CommittedChangelog implements Sink<Update>, SupportsCommitter<CommittedChangelog.Batch> {
    private static final long serialVersionUID = 1L;
    private static final Map<String, Map<String, List<Update>>> PUBLISHED = new ConcurrentHashMap<>();

    private final String name;

    CommittedChangelog(String name) {
        this.name = name;
        PUBLISHED.put(name, new ConcurrentHashMap<>());
    }

    /** Every committed data update. */
    List<Update> updates() {
        List<Update> all = new ArrayList<>();
        PUBLISHED.get(name).values().forEach(all::addAll);
        return all;
    }

    record Batch(String id, List<Update> updates) {
    }

    @Override
    public SinkWriter<Update> createWriter(WriterInitContext context) {
        return new CommittingSinkWriter<Update, Batch>() {
            private List<Update> pending = new ArrayList<>();

            @Override
            public void write(Update update, Context ctx) {
                if (!update.isProgress()) {
                    pending.add(update);
                }
            }

            @Override
            public Collection<Batch> prepareCommit() {
                Batch batch = new Batch(UUID.randomUUID().toString(), pending);
                pending = new ArrayList<>();
                return List.of(batch);
            }

            @Override
            public void flush(boolean endOfInput) {
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public Committer<Batch> createCommitter(CommitterInitContext context) {
        String sinkName = name;
        return new Committer<>() {
            @Override
            public void commit(Collection<CommitRequest<Batch>> requests) {
                for (CommitRequest<Batch> request : requests) {
                    PUBLISHED.get(sinkName).putIfAbsent(request.getCommittable().id(), request.getCommittable().updates());
                }
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public SimpleVersionedSerializer<Batch> getCommittableSerializer() {
        return new SimpleVersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Batch batch) throws IOException {
                DataOutputSerializer out = new DataOutputSerializer(256);
                out.writeUTF(batch.id());
                out.writeInt(batch.updates().size());
                for (Update update : batch.updates()) {
                    UpdateSerializer.INSTANCE.serialize(update, out);
                }
                return out.getCopyOfBuffer();
            }

            @Override
            public Batch deserialize(int version, byte[] serialized) throws IOException {
                DataInputDeserializer in = new DataInputDeserializer(serialized);
                String id = in.readUTF();
                int n = in.readInt();
                List<Update> updates = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    updates.add(UpdateSerializer.INSTANCE.deserialize(in));
                }
                return new Batch(id, updates);
            }
        };
    }
}
