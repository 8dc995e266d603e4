package io.upsertfeedback.connectors.feedback;

import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * The feedback source's single split: the store's frontier row plus its rehydration progress
 * (whether rehydration finished, else the last key emitted, so a restore resumes the scan after it
 * instead of feeding keys twice) and, once finished, how long it took, so the
 * {@code rehydrationLatencyMs} gauge keeps its value across failovers.
 */
public final class FeedbackSplit implements SourceSplit {
    static final String ID = "feedback";

    private final boolean rehydrated;
    private final byte[] lastKey;
    private final long rehydrationMillis;

    private FeedbackSplit(boolean rehydrated, byte[] lastKey, long rehydrationMillis) {
        this.rehydrated = rehydrated;
        this.lastKey = lastKey;
        this.rehydrationMillis = rehydrationMillis;
    }

    static FeedbackSplit fresh() {
        return new FeedbackSplit(false, null, -1);
    }

    /** Rehydration in progress: {@code lastKey} was the last key fed. */
    static FeedbackSplit scannedTo(byte[] lastKey) {
        return new FeedbackSplit(false, lastKey, -1);
    }

    /** Rehydration finished after {@code millis} ms ({@code -1}: unknown, restored from a version 1 split). */
    static FeedbackSplit rehydratedIn(long millis) {
        return new FeedbackSplit(true, null, millis);
    }

    public boolean rehydrated() {
        return rehydrated;
    }

    /** Last key fed during rehydration, or {@code null}. */
    public byte[] lastKey() {
        return lastKey;
    }

    /** How long rehydration took, in ms; {@code -1} while it runs or when unknown. */
    long rehydrationMillis() {
        return rehydrationMillis;
    }

    @Override
    public String splitId() {
        return ID;
    }

    /**
     * Serializer of {@link FeedbackSplit} and of the enumerator's state (a split not yet assigned, or
     * none). Version 2 adds the rehydration latency; version 1 (before it) is still read.
     */
    static final class Serializer implements SimpleVersionedSerializer<FeedbackSplit> {
        static final Serializer INSTANCE = new Serializer();

        @Override
        public int getVersion() {
            return 2;
        }

        @Override
        public byte[] serialize(FeedbackSplit split) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeBoolean(split != null);
                if (split != null) {
                    out.writeBoolean(split.rehydrated);
                    out.writeInt(split.lastKey == null ? -1 : split.lastKey.length);
                    if (split.lastKey != null) {
                        out.write(split.lastKey);
                    }
                    out.writeLong(split.rehydrationMillis);
                }
            }
            return bytes.toByteArray();
        }

        @Override
        public FeedbackSplit deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1 && version != 2) {
                throw new IOException("unknown feedback split version " + version);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                if (!in.readBoolean()) {
                    return null;
                }
                boolean rehydrated = in.readBoolean();
                int len = in.readInt();
                byte[] key = len < 0 ? null : in.readNBytes(len);
                long millis = version >= 2 ? in.readLong() : -1;
                return new FeedbackSplit(rehydrated, key, millis);
            }
        }
    }
}
