package io.upsertfeedback.connectors.kafka;

import io.upsertfeedback.operators.UpsertValue;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decodes Avro values in one of three framings ({@link ValueFormat#AVRO}, {@link
 * ValueFormat#AVRO_SINGLE_OBJECT}, {@link ValueFormat#CONFLUENT}) against one reader schema.
 *
 * <p>Algorithm: the {@link Framing} gives a writer-schema id (none for plain Avro, the CRC-64-AVRO
 * fingerprint for single-object encoding, the registry id for Confluent) and the offset of the
 * Avro body. The id selects a prepared {@link GenericDatumReader} (writer schema resolved against
 * the reader schema, built once in {@link #open()}). The body is first <em>skipped</em> through the
 * writer schema, which checks every length prefix against the bytes that are left without
 * allocating anything, and must be consumed exactly (trailing bytes are an error); only then is it
 * decoded into a reused record. Without that first pass, a garbage length prefix would make Avro
 * allocate up to 2 GiB before noticing the value is too short (schemas with arrays of zero-byte
 * items, e.g. of {@code null}, remain exposed to huge item counts). The stored value is always <b>plain Avro
 * binary in the reader schema</b>: when the writer schema equals the reader schema the body bytes
 * are kept as they are (no re-encoding); otherwise the resolved record is re-encoded into a reused
 * buffer. Anything that fails (bad header, unknown id, truncated or trailing bytes, a schema
 * resolution error) yields an error value with the reason; nothing throws.
 *
 * <p>Per record there is no reflection and no schema parsing: lookups scan a small array of ids.
 */
public final class AvroValueDecoder implements ValueDecoder {
    private static final long serialVersionUID = 1L;
    private final Framing framing;
    private final String readerSchema;
    private final long[] writerIds;
    private final String[] writerSchemas;
    private final String timeField;

    private transient Schema[] writers;
    private transient GenericDatumReader<GenericRecord>[] readers;
    private transient GenericRecord[] reuse;
    private transient boolean[] sameAsReader;
    private transient int timePos;
    private transient BinaryDecoder decoder;
    private transient GenericDatumWriter<GenericRecord> writer;
    private transient BinaryEncoder encoder;
    private transient ByteArrayOutputStream buffer;
    private transient long lastTime;

    private AvroValueDecoder(Framing framing, Schema reader, Map<Long, Schema> writers, String timeField) {
        this.framing = framing;
        this.readerSchema = reader.toString();
        this.writerIds = writers.keySet().stream().mapToLong(Long::longValue).toArray();
        this.writerSchemas = writers.values().stream().map(Schema::toString).toArray(String[]::new);
        this.timeField = timeField;
        checkTimeField(reader, timeField);
    }

    /** Plain Avro binary; {@code writer} ({@code null}: same as the reader) is what producers wrote with. */
    public static AvroValueDecoder plain(Schema reader, Schema writer, String timeField) {
        return new AvroValueDecoder(PlainFraming.INSTANCE, reader, Map.of(0L, writer == null ? reader : writer), timeField);
    }

    /** Single-object encoding; the reader schema and every schema in {@code writers} are known by fingerprint. */
    public static AvroValueDecoder singleObject(Schema reader, List<Schema> writers, String timeField) {
        Map<Long, Schema> byFingerprint = new LinkedHashMap<>();
        byFingerprint.put(SchemaNormalization.parsingFingerprint64(reader), reader);
        for (Schema w : writers) {
            byFingerprint.put(SchemaNormalization.parsingFingerprint64(w), w);
        }
        return new AvroValueDecoder(SingleObjectFraming.INSTANCE, reader, byFingerprint, timeField);
    }

    /** Confluent wire format; {@code schemasById} maps registry ids to writer schemas. */
    public static AvroValueDecoder confluent(Schema reader, Map<Integer, Schema> schemasById, String timeField) {
        if (schemasById.isEmpty()) {
            throw new IllegalArgumentException("the Confluent format needs at least one schema id -> schema file");
        }
        Map<Long, Schema> byId = new LinkedHashMap<>();
        schemasById.forEach((id, s) -> byId.put((long) id, s));
        return new AvroValueDecoder(ConfluentFraming.INSTANCE, reader, byId, timeField);
    }

    /** Position of {@code timeField} in {@code reader}, -1 for none; rejects fields that are not long or int. */
    public static int checkTimeField(Schema reader, String timeField) {
        if (timeField == null) {
            return -1;
        }
        Schema.Field f = reader.getField(timeField);
        if (f == null) {
            throw new IllegalArgumentException("time field '" + timeField + "' is not a field of the reader schema " + reader.getFullName());
        }
        Schema s = f.schema();
        boolean numeric = isNumeric(s) || (s.getType() == Schema.Type.UNION && s.getTypes().stream().allMatch(
                t -> t.getType() == Schema.Type.NULL || isNumeric(t)));
        if (!numeric) {
            throw new IllegalArgumentException("time field '" + timeField + "' must be a long or int (optionally nullable), is " + s);
        }
        return f.pos();
    }

    private static boolean isNumeric(Schema s) {
        return s.getType() == Schema.Type.LONG || s.getType() == Schema.Type.INT;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void open() {
        Schema reader = new Schema.Parser().parse(readerSchema);
        writers = new Schema[writerIds.length];
        readers = new GenericDatumReader[writerIds.length];
        reuse = new GenericRecord[writerIds.length];
        sameAsReader = new boolean[writerIds.length];
        for (int i = 0; i < writerIds.length; i++) {
            Schema w = new Schema.Parser().parse(writerSchemas[i]);
            writers[i] = w;
            readers[i] = new GenericDatumReader<>(w, reader);
            sameAsReader[i] = w.equals(reader);
        }
        timePos = checkTimeField(reader, timeField);
        writer = new GenericDatumWriter<>(reader);
        buffer = new ByteArrayOutputStream();
    }

    @Override
    public UpsertValue decode(byte[] raw) {
        lastTime = Long.MIN_VALUE;
        Framing.Header header = framing.read(raw);
        if (header.error() != null) {
            return UpsertValue.error(raw, header.error());
        }
        int start = header.bodyStart();
        int w = indexOf(header.writerId());
        if (w < 0) {
            return UpsertValue.error(raw, framing.unknown(header.writerId()));
        }
        GenericRecord record;
        try {
            decoder = DecoderFactory.get().binaryDecoder(raw, start, raw.length - start, decoder);
            GenericDatumReader.skip(writers[w], decoder);
            if (!decoder.isEnd()) {
                return UpsertValue.error(raw, "not a single Avro record: trailing bytes after it");
            }
            decoder = DecoderFactory.get().binaryDecoder(raw, start, raw.length - start, decoder);
            record = readers[w].read(reuse[w], decoder);
        } catch (IOException | RuntimeException e) {
            return UpsertValue.error(raw, "Avro decoding failed: " + e);
        }
        reuse[w] = record;
        if (timePos >= 0 && record.get(timePos) instanceof Number n) {
            lastTime = n.longValue();
        }
        if (sameAsReader[w]) {
            return UpsertValue.of(start == 0 ? raw : Arrays.copyOfRange(raw, start, raw.length));
        }
        try {
            buffer.reset();
            encoder = EncoderFactory.get().directBinaryEncoder(buffer, encoder);
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            return UpsertValue.error(raw, "Avro re-encoding in the reader schema failed: " + e);
        }
        return UpsertValue.of(buffer.toByteArray());
    }

    private int indexOf(long id) {
        for (int i = 0; i < writerIds.length; i++) {
            if (writerIds[i] == id) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public long lastTime() {
        return lastTime;
    }
}
