package io.upsertfeedback.connectors.store.gcs;

import com.google.cloud.ReadChannel;
import com.google.cloud.WriteChannel;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.RangeReader;
import io.upsertfeedback.connectors.store.RevisionNames;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@link LongTermTier} on Google Cloud Storage ({@code gs://bucket/prefix}).
 *
 * <p>Objects live under {@code prefix/} + a {@link RevisionNames} name: unique per revision, so
 * objects are never overwritten without relying on generation preconditions (which the in-memory
 * {@code LocalStorageHelper} used in tests does not support). Uploads stream through a resumable-upload {@link WriteChannel} in
 * {@code uploadChunkSize} pieces; reads above the range threshold fetch ranges concurrently through
 * {@link ReadChannel#seek}/{@link ReadChannel#limit} ({@link RangeReader}).
 */
public final class GcsLongTermTier implements LongTermTier {
    private final Storage storage;
    private final String bucket;
    private final String prefix;
    private final int uploadChunkSize;
    private final ExecutorService pool;
    private final RangeReader rangeReader;

    public GcsLongTermTier(Storage storage, String bucket, String prefix, RangeReader.Settings ranges, int uploadChunkSize) {
        this.storage = storage;
        this.bucket = bucket;
        this.prefix = prefix.isEmpty() || prefix.endsWith("/") ? prefix : prefix + "/";
        this.uploadChunkSize = uploadChunkSize;
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "gcs-range-read");
            t.setDaemon(true);
            return t;
        });
        this.rangeReader = new RangeReader(ranges, pool);
    }

    /** Parses {@code gs://bucket/prefix} into (bucket, prefix). */
    public static String[] parseUri(String uri) {
        URI u = URI.create(uri);
        if (!"gs".equals(u.getScheme()) || u.getHost() == null) {
            throw new IllegalArgumentException("not a gs://bucket/prefix URI: " + uri);
        }
        String path = u.getPath() == null ? "" : u.getPath().replaceFirst("^/", "");
        return new String[] {u.getHost(), path};
    }

    @Override
    public String newObjectName(byte[] key) {
        return RevisionNames.newName(key);
    }

    private BlobId id(String name) {
        return BlobId.of(bucket, prefix + name);
    }

    @Override
    public void write(String name, byte[] data) throws IOException {
        try (WriteChannel channel = storage.writer(BlobInfo.newBuilder(id(name)).setContentType("application/octet-stream").build())) {
            channel.setChunkSize(uploadChunkSize);
            ByteBuffer buf = ByteBuffer.wrap(data);
            while (buf.hasRemaining()) {
                ByteBuffer slice = buf.slice(buf.position(), Math.min(uploadChunkSize, buf.remaining()));
                while (slice.hasRemaining()) {
                    channel.write(slice);
                }
                buf.position(buf.position() + slice.limit());
            }
        }
    }

    @Override
    public byte[] read(String name) throws IOException {
        Blob blob = storage.get(id(name));
        if (blob == null) {
            return null;
        }
        return rangeReader.read(blob.getSize(), (offset, length) -> {
            try (ReadChannel reader = storage.reader(id(name))) {
                reader.seek(offset);
                reader.limit(offset + length);
                ByteBuffer buf = ByteBuffer.allocate(length);
                while (buf.hasRemaining() && reader.read(buf) >= 0) {
                    // keep reading until the range is complete or the object ends
                }
                return buf.position() == length ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
            }
        });
    }

    @Override
    public void delete(String name) {
        storage.delete(id(name));
    }

    @Override
    public List<String> list() {
        List<String> names = new ArrayList<>();
        for (Blob b : storage.list(bucket, Storage.BlobListOption.prefix(prefix)).iterateAll()) {
            names.add(b.getName().substring(prefix.length()));
        }
        return names;
    }

    @Override
    public String describe() {
        return "gs://" + bucket + "/" + prefix;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
