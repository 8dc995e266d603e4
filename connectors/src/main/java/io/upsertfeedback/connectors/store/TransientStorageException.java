package io.upsertfeedback.connectors.store;

import java.io.IOException;

/** A storage failure that may succeed when retried (unavailable, timed out, throttled). */
public class TransientStorageException extends IOException {
    public TransientStorageException(String message) {
        super(message);
    }

    public TransientStorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
