package io.upsertfeedback.connectors.store.localdir;

import io.upsertfeedback.connectors.store.LongTermTier;
import io.upsertfeedback.connectors.store.RangeReader;
import io.upsertfeedback.connectors.store.RevisionNames;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * {@link LongTermTier} in a local directory: the embedded default for local mode and tests.
 *
 * <p>Objects of a key live in the directory of its hash; deleting a key's last object removes the
 * directory too, and a write that loses that race creates it again.
 *
 * <p>An object is streamed into a hidden temporary file, forced to disk, then published with a hard
 * link to its final name: {@code createLink} fails if the name exists, so publishing never
 * overwrites (a retry that finds its name already published with the same length treats the
 * write as done). Readers never see a partial object. Reads above the range threshold use
 * positional {@link FileChannel} reads concurrently ({@link RangeReader}).
 */
public final class LocalDirectoryLongTermTier implements LongTermTier {
    private static final String TMP = ".tmp-";
    private final Path root;
    private final ExecutorService pool;
    private final RangeReader rangeReader;

    public LocalDirectoryLongTermTier(Path root, RangeReader.Settings ranges) throws IOException {
        this.root = Files.createDirectories(root);
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "dir-range-read");
            t.setDaemon(true);
            return t;
        });
        this.rangeReader = new RangeReader(ranges, pool);
    }

    @Override
    public String newObjectName(byte[] key) {
        return RevisionNames.newName(key);
    }

    private Path path(String name) {
        Path p = root.resolve(name).normalize();
        if (!p.startsWith(root) || p.getFileName().toString().startsWith(TMP)) {
            throw new IllegalArgumentException("invalid object name " + name);
        }
        return p;
    }

    @Override
    public void write(String name, byte[] data) throws IOException {
        Path target = path(name);
        Path tmp = target.resolveSibling(TMP + UUID.randomUUID());
        try {
            FileChannel opened;
            while (true) {
                Files.createDirectories(target.getParent());
                try {
                    opened = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    break;
                } catch (java.nio.file.NoSuchFileException e) {
                    // a delete of the key's last object removed the directory in between: create it again
                }
            }
            try (FileChannel ch = opened;
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                for (int off = 0; off < data.length; off += 1 << 20) {
                    out.write(data, off, Math.min(1 << 20, data.length - off));
                }
                ch.force(true);
            }
            Files.createLink(target, tmp);
        } catch (FileAlreadyExistsException e) {
            if (Files.size(target) != data.length) {
                throw new IOException("object " + name + " already exists with other content: revisions are never overwritten", e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public byte[] read(String name) throws IOException {
        Path p = path(name);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return rangeReader.read(ch.size(), (offset, length) -> {
                ByteBuffer buf = ByteBuffer.allocate(length);
                while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) >= 0) {
                    // positional reads are independent of other ranges on the same channel
                }
                return buf.position() == length ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
            });
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    /** Deletes the object, and its key's directory once that holds nothing else (so the tier shrinks). */
    @Override
    public void delete(String name) throws IOException {
        Path p = path(name);
        Files.deleteIfExists(p);
        try {
            if (!p.getParent().equals(root)) {
                Files.deleteIfExists(p.getParent());
            }
        } catch (java.nio.file.DirectoryNotEmptyException stillUsed) {
            // another revision (or an upload in progress) of a key with this hash
        }
    }

    @Override
    public List<String> list() throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(TMP))
                    .map(p -> root.relativize(p).toString().replace('\\', '/')).sorted().toList();
        }
    }

    @Override
    public String describe() {
        return "directory " + root;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
