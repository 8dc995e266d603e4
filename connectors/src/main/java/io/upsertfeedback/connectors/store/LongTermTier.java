package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.util.List;

/**
 * The long-term tier: immutable objects under unique revision names. An object is written once and
 * never overwritten ({@link #newObjectName} is unique per call; writing the same name again is only
 * a retry of the same bytes); it is deleted once no tombstone references it.
 */
public interface LongTermTier extends AutoCloseable {

    /** A fresh, never-used revision name for a value of {@code key}. */
    String newObjectName(byte[] key);

    /** Writes the object (streaming). Retrying with the same name and bytes is harmless. */
    void write(String name, byte[] data) throws IOException;

    /** The object's bytes, or {@code null} when it does not exist. */
    byte[] read(String name) throws IOException;

    /** Deletes the object; deleting a missing object is not an error. */
    void delete(String name) throws IOException;

    /** Every object name in the tier (under this store's prefix). */
    List<String> list() throws IOException;

    String describe();

    @Override
    void close() throws IOException;
}
