package io.upsertfeedback.connectors.store;

import java.util.HexFormat;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Revision names of long-term objects, shared by every {@link LongTermTier}:
 * {@code <crc32c(key) as 8 hex digits>/<random UUID>}. The UUID makes every revision unique, so an
 * object is never overwritten (no generation preconditions needed); the hash spreads names over the
 * tier's key space and groups a key's revisions under one directory.
 */
public final class RevisionNames {
    private RevisionNames() {}

    /** A fresh revision name for a value of {@code key}; never returned twice. */
    public static String newName(byte[] key) {
        CRC32C crc = new CRC32C();
        crc.update(key);
        return HexFormat.of().toHexDigits((int) crc.getValue()) + "/" + UUID.randomUUID();
    }
}
