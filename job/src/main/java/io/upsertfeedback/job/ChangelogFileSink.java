package io.upsertfeedback.job;

import io.upsertfeedback.operators.Update;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code local --changelog-to LOG}: every data update the operator emits, as JSON lines
 * {@code {"key": ..., "value": ..., "time": ..., "diff": 1|-1}} (key and value as UTF-8 text);
 * progress markers are skipped.
 *
 * <p>In-process only: {@code local} opens the file ({@link #open}) and closes it after the job
 * ended; the sink's writers, chained forward behind the operator at its parallelism, append to that
 * one file under its lock. Being chained, a writer holds every update before the store sink can
 * acknowledge it, so once the persist frontier passed a time and the file is closed, every update
 * below that time is in it. Flushed on watermarks and checkpoints. Not an exactly-once sink: after
 * a failover it may repeat lines.
 */
final class ChangelogFileSink implements Sink<Update> {
    private static final long serialVersionUID = 1L;
    private static final Map<String, OpenFile> OPEN = new ConcurrentHashMap<>();

    private final String file;

    private ChangelogFileSink(String file) {
        this.file = file;
    }

    /** Creates (truncates) {@code file}; the returned sink appends to it until {@link OpenFile#close()}. */
    static OpenFile open(Path file) throws IOException {
        String name = file.toAbsolutePath().toString();
        OpenFile open = new OpenFile(name, Files.newBufferedWriter(Path.of(name), StandardCharsets.UTF_8));
        OPEN.put(name, open);
        return open;
    }

    /** The changelog file of this JVM: the sink, and {@link #close()} once the job has ended. */
    static final class OpenFile implements AutoCloseable {
        private final String name;
        private final BufferedWriter out;

        private OpenFile(String name, BufferedWriter out) {
            this.name = name;
            this.out = out;
        }

        ChangelogFileSink sink() {
            return new ChangelogFileSink(name);
        }

        synchronized void write(String line) throws IOException {
            out.write(line);
            out.newLine();
        }

        synchronized void flush() throws IOException {
            out.flush();
        }

        @Override
        public synchronized void close() throws IOException {
            OPEN.remove(name);
            out.close();
        }
    }

    @Override
    public SinkWriter<Update> createWriter(WriterInitContext context) {
        OpenFile open = OPEN.get(file);
        if (open == null) {
            throw new IllegalStateException("changelog file " + file + " is not open: --changelog-to works in `local` mode only");
        }
        return new Writer(open);
    }

    private static final class Writer implements SinkWriter<Update> {
        private final ObjectMapper json = new ObjectMapper();
        private final OpenFile file;

        Writer(OpenFile file) {
            this.file = file;
        }

        @Override
        public void write(Update update, Context context) throws IOException {
            if (update.isProgress()) {
                return;
            }
            ObjectNode line = json.createObjectNode();
            line.put("key", new String(update.key(), StandardCharsets.UTF_8));
            line.put("value", new String(update.value().bytes(), StandardCharsets.UTF_8));
            line.put("time", update.time());
            line.put("diff", update.diff());
            file.write(json.writeValueAsString(line));
        }

        @Override
        public void writeWatermark(Watermark watermark) throws IOException {
            file.flush();
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            file.flush();
        }

        @Override
        public void close() throws IOException {
            file.flush();
        }
    }
}
