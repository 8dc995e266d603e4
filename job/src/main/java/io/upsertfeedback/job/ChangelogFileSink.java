package io.upsertfeedback.job;

import io.upsertfeedback.operators.Update;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.json.JsonWriteFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.json.JsonMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code local --changelog-to LOG}: every data update the operator emits, once, as JSON lines
 * {@code {"key": ..., "value": ..., "time": ..., "diff": 1|-1}} (bytes as {@link JsonBytes}; an
 * error value has {@code "error"} with its reason and the {@code "partition"}/{@code "offset"} of
 * the command that caused the update: for an insert the record the value came from, for a
 * retraction the command that replaced or deleted it, as in the update's order key); progress
 * markers are skipped.
 *
 * <p>Exactly once (SPEC section 3, invariant 9): subtask {@code i} appends to its part file
 * {@code LOG.part-i}, and its checkpointed state is the part's length. A subtask restored from a
 * checkpoint first cuts its part back to the length of that checkpoint, so the updates a failed
 * attempt wrote after it (which the restored operator emits again) appear once. {@link #assemble}
 * joins the parts into {@code LOG} once the job has ended. The parts are local files: this sink
 * only works where every subtask runs on this machine (a MiniCluster).
 *
 * <p>Being chained behind the operator, a writer holds every update before the store sink can
 * acknowledge it, so once the persist frontier passed a time, every update below it is in a part.
 */
final class ChangelogFileSink implements Sink<Update>, SupportsWriterState<Update, ChangelogFileSink.Part> {
    private static final long serialVersionUID = 1L;

    private final String file;

    /** The sink of {@code file}: removes parts of an earlier run, and {@code file} itself. */
    static ChangelogFileSink create(Path file) throws IOException {
        Path log = file.toAbsolutePath();
        for (Path part : parts(log)) {
            Files.delete(part);
        }
        Files.deleteIfExists(log);
        return new ChangelogFileSink(log.toString());
    }

    private ChangelogFileSink(String file) {
        this.file = file;
    }

    /** A part file and how many of its bytes belong to the checkpoint. */
    record Part(String path, long length) {
    }

    /** Joins the parts into {@code file} (in subtask order) and deletes them; call once the job has ended. */
    static void assemble(Path file) throws IOException {
        Path log = file.toAbsolutePath();
        try (OutputStream out = Files.newOutputStream(log)) {
            for (Path part : parts(log)) {
                Files.copy(part, out);
                Files.delete(part);
            }
        }
    }

    private static List<Path> parts(Path log) throws IOException {
        if (!Files.isDirectory(log.getParent())) {
            return List.of();
        }
        String prefix = log.getFileName() + ".part-";
        try (Stream<Path> files = Files.list(log.getParent())) {
            return files.filter(p -> p.getFileName().toString().startsWith(prefix))
                    .sorted((a, b) -> Integer.compare(subtaskOf(a, prefix), subtaskOf(b, prefix)))
                    .toList();
        }
    }

    private static int subtaskOf(Path part, String prefix) {
        return Integer.parseInt(part.getFileName().toString().substring(prefix.length()));
    }

    @Override
    public StatefulSinkWriter<Update, Part> createWriter(WriterInitContext context) throws IOException {
        return restoreWriter(context, List.of());
    }

    @Override
    public StatefulSinkWriter<Update, Part> restoreWriter(WriterInitContext context, Collection<Part> recovered) throws IOException {
        Path own = Path.of(file + ".part-" + context.getTaskInfo().getIndexOfThisSubtask());
        long ownLength = 0;
        List<Part> others = new ArrayList<>();
        for (Part part : recovered) {
            cut(Path.of(part.path()), part.length());
            if (Path.of(part.path()).equals(own)) {
                ownLength = part.length();
            } else {
                others.add(part);
            }
        }
        cut(own, ownLength);
        return new Writer(own, others);
    }

    /** Cuts {@code part} back to {@code length} bytes (creating it empty if missing). */
    private static void cut(Path part, long length) throws IOException {
        try (FileChannel channel = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.truncate(length);
        }
    }

    @Override
    public SimpleVersionedSerializer<Part> getWriterStateSerializer() {
        return new SimpleVersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Part part) throws IOException {
                DataOutputSerializer out = new DataOutputSerializer(128);
                out.writeUTF(part.path());
                out.writeLong(part.length());
                return out.getCopyOfBuffer();
            }

            @Override
            public Part deserialize(int version, byte[] serialized) throws IOException {
                DataInputDeserializer in = new DataInputDeserializer(serialized);
                return new Part(in.readUTF(), in.readLong());
            }
        };
    }

    /**
     * One subtask's part, appended through a plain {@link FileOutputStream}: not an interruptible
     * channel, which the interrupt of a cancelled task closes, so that the task's close failed and
     * Flink logged it as fatal on every Ctrl-C.
     */
    static final class Writer implements StatefulSinkWriter<Update, Part> {
        /** Writes characters beyond the basic plane (emoji) as UTF-8, not as an escaped surrogate pair (Jackson's default for bytes). */
        private final ObjectMapper json = JsonMapper.builder().enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8).build();
        private final Path path;
        private final List<Part> others;
        private final OutputStream out;
        /** Bytes in the part once everything written is flushed. */
        private long length;

        Writer(Path path, List<Part> others) throws IOException {
            this.path = path;
            this.others = others;
            this.length = Files.size(path);
            this.out = new BufferedOutputStream(new FileOutputStream(path.toFile(), true), 64 * 1024);
        }

        @Override
        public void write(Update update, Context context) throws IOException {
            if (update.isProgress()) {
                return;
            }
            ObjectNode line = json.createObjectNode();
            JsonBytes.put(line, "key", update.key());
            JsonBytes.put(line, "value", update.value().bytes());
            if (update.value().isError()) {
                line.put("error", update.value().error());
                line.put("partition", update.partition());
                line.put("offset", update.offset());
            }
            line.put("time", update.time());
            line.put("diff", update.diff());
            byte[] bytes = json.writeValueAsBytes(line);
            out.write(bytes);
            out.write('\n');
            length += bytes.length + 1;
        }

        @Override
        public List<Part> snapshotState(long checkpointId) throws IOException {
            out.flush();
            List<Part> state = new ArrayList<>(others);
            state.add(new Part(path.toString(), length));
            return state;
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
