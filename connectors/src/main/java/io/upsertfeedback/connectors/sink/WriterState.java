package io.upsertfeedback.connectors.sink;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The state of one sink subtask in a checkpoint or savepoint.
 *
 * <p>A restored operator does not emit again the watermarks and progress markers it emitted before
 * the checkpoint, so what the sink needs of them to publish the frontier over the keys it held
 * across the checkpoint is kept here.
 *
 * @param epoch       the job's writer epoch: a job restored from this state succeeds it ({@link
 *                    io.upsertfeedback.connectors.store.PersistFrontier#claim})
 * @param subtask     the subtask that wrote it, or -1 when unknown (version 1)
 * @param parallelism the sink's parallelism then, or -1 when unknown (version 1)
 * @param watermark   the last watermark the sink received (ms), {@code Long.MIN_VALUE} when none
 * @param positions   the source positions of the latest progress marker at or below it
 * @param frontiers   the frontiers the watermark reached and not marked yet, oldest first (a key
 *                    below them was held)
 * @param held        the keys held for consolidation and not written yet ({@link Consolidator#snapshot});
 *                    empty when none
 */
record WriterState(String epoch, int subtask, int parallelism, long watermark, Map<Integer, Long> positions,
                   List<Frontier> frontiers, byte[] held) {

    /** A frontier {@code f} (watermark + 1) to mark once nothing below it is held, with its source positions. */
    record Frontier(long f, Map<Integer, Long> positions) {}

    /** Whether this state was written by subtask {@code subtask} of a sink of {@code parallelism}. */
    boolean writtenBy(int subtask, int parallelism) {
        return this.subtask == subtask && this.parallelism == parallelism;
    }

    /**
     * Version 2: the epoch (UTF), subtask, parallelism, watermark, positions, frontiers, then the
     * held keys. Version 1 (the epoch alone, UTF-8) is read too.
     */
    static final SimpleVersionedSerializer<WriterState> SERIALIZER = new SimpleVersionedSerializer<>() {
        @Override
        public int getVersion() {
            return 2;
        }

        @Override
        public byte[] serialize(WriterState state) throws IOException {
            long frontierBytes = 0;
            for (Frontier f : state.frontiers()) {
                frontierBytes += 12 + 12L * f.positions().size();
            }
            // sized once: a buffer grown while copying the held keys in copied them again (JFR)
            DataOutputSerializer out = new DataOutputSerializer((int) Math.min(Integer.MAX_VALUE - 64,
                    256 + 12L * state.positions().size() + frontierBytes + state.held().length));
            out.writeUTF(state.epoch());
            out.writeInt(state.subtask());
            out.writeInt(state.parallelism());
            out.writeLong(state.watermark());
            writePositions(state.positions(), out);
            out.writeInt(state.frontiers().size());
            for (Frontier f : state.frontiers()) {
                out.writeLong(f.f());
                writePositions(f.positions(), out);
            }
            out.writeInt(state.held().length);
            out.write(state.held());
            return out.getCopyOfBuffer();
        }

        @Override
        public WriterState deserialize(int version, byte[] serialized) throws IOException {
            switch (version) {
                case 1:
                    return new WriterState(new String(serialized, StandardCharsets.UTF_8), -1, -1, Long.MIN_VALUE, Map.of(),
                            List.of(), new byte[0]);
                case 2:
                    DataInputDeserializer in = new DataInputDeserializer(serialized);
                    String epoch = in.readUTF();
                    int subtask = in.readInt();
                    int parallelism = in.readInt();
                    long watermark = in.readLong();
                    Map<Integer, Long> positions = readPositions(in);
                    List<Frontier> frontiers = new ArrayList<>();
                    for (int n = in.readInt(); n > 0; n--) {
                        frontiers.add(new Frontier(in.readLong(), readPositions(in)));
                    }
                    byte[] held = new byte[in.readInt()];
                    in.readFully(held);
                    return new WriterState(epoch, subtask, parallelism, watermark, positions, frontiers, held);
                default:
                    throw new IOException("unknown writer state version " + version + " of the tiered-store sink");
            }
        }

        private static void writePositions(Map<Integer, Long> positions, DataOutputSerializer out) throws IOException {
            out.writeInt(positions.size());
            for (Map.Entry<Integer, Long> e : positions.entrySet()) {
                out.writeInt(e.getKey());
                out.writeLong(e.getValue());
            }
        }

        private static Map<Integer, Long> readPositions(DataInputDeserializer in) throws IOException {
            Map<Integer, Long> positions = new HashMap<>();
            for (int n = in.readInt(); n > 0; n--) {
                positions.put(in.readInt(), in.readLong());
            }
            return positions;
        }
    };
}
