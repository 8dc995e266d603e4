package io.upsertfeedback.connectors.sink;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The sink's committable: the deletion markers one subtask wrote (and saw acknowledged) before a
 * checkpoint, each by its key and its delete's order key {@code (time, partition, offset)}; the
 * {@link MarkerCollector} removes them once that checkpoint has completed.
 */
record DeleteMarkers(List<Marker> markers) {

    /** One deletion marker: what {@code TieredStore.prepare} makes of a delete of {@code key} at this order key. */
    record Marker(byte[] key, long time, int partition, long offset) {}

    /** Version 1: count, then per marker key length, key, time, partition, offset. */
    static final SimpleVersionedSerializer<DeleteMarkers> SERIALIZER = new SimpleVersionedSerializer<>() {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(DeleteMarkers batch) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(64 + 32 * batch.markers().size());
            out.writeInt(batch.markers().size());
            for (Marker m : batch.markers()) {
                out.writeInt(m.key().length);
                out.write(m.key());
                out.writeLong(m.time());
                out.writeInt(m.partition());
                out.writeLong(m.offset());
            }
            return out.getCopyOfBuffer();
        }

        @Override
        public DeleteMarkers deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown version " + version + " of the tiered-store sink's committable");
            }
            DataInputDeserializer in = new DataInputDeserializer(serialized);
            int n = in.readInt();
            List<Marker> markers = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[] key = new byte[in.readInt()];
                in.readFully(key);
                markers.add(new Marker(key, in.readLong(), in.readInt(), in.readLong()));
            }
            return new DeleteMarkers(markers);
        }
    };
}
