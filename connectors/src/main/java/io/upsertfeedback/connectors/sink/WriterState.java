package io.upsertfeedback.connectors.sink;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The state of one sink subtask in a checkpoint or savepoint.
 *
 * @param epoch       the job's writer epoch: a job restored from this state succeeds it ({@link
 *                    io.upsertfeedback.connectors.store.PersistFrontier#claim})
 * @param subtask     the subtask that wrote it, or -1 when unknown (version 1)
 * @param parallelism the sink's parallelism then, or -1 when unknown (version 1)
 * @param held        the keys held for consolidation and not written yet ({@link Consolidator#snapshot});
 *                    empty when none
 */
record WriterState(String epoch, int subtask, int parallelism, byte[] held) {

    /** Whether this state was written by subtask {@code subtask} of a sink of {@code parallelism}. */
    boolean writtenBy(int subtask, int parallelism) {
        return this.subtask == subtask && this.parallelism == parallelism;
    }

    /** Version 2: the epoch (UTF), subtask, parallelism, then the held keys. Version 1 (the epoch alone, UTF-8) is read too. */
    static final SimpleVersionedSerializer<WriterState> SERIALIZER = new SimpleVersionedSerializer<>() {
        @Override
        public int getVersion() {
            return 2;
        }

        @Override
        public byte[] serialize(WriterState state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(64 + state.held().length);
            out.writeUTF(state.epoch());
            out.writeInt(state.subtask());
            out.writeInt(state.parallelism());
            out.writeInt(state.held().length);
            out.write(state.held());
            return out.getCopyOfBuffer();
        }

        @Override
        public WriterState deserialize(int version, byte[] serialized) throws IOException {
            switch (version) {
                case 1:
                    return new WriterState(new String(serialized, StandardCharsets.UTF_8), -1, -1, new byte[0]);
                case 2:
                    DataInputDeserializer in = new DataInputDeserializer(serialized);
                    String epoch = in.readUTF();
                    int subtask = in.readInt();
                    int parallelism = in.readInt();
                    byte[] held = new byte[in.readInt()];
                    in.readFully(held);
                    return new WriterState(epoch, subtask, parallelism, held);
                default:
                    throw new IOException("unknown writer state version " + version + " of the tiered-store sink");
            }
        }
    };
}
