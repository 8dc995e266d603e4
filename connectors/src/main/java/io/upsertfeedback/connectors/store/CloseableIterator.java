package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.util.Iterator;

/** An iterator over a scan that holds a server-side cursor until closed. */
public interface CloseableIterator<T> extends Iterator<T>, AutoCloseable {
    @Override
    void close() throws IOException;
}
