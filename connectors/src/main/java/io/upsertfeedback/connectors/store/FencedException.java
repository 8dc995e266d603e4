package io.upsertfeedback.connectors.store;

import java.io.IOException;

/** Another writer owns the store's frontier: this writer must stop (never retried). */
public class FencedException extends IOException {
    public FencedException(String message) {
        super(message);
    }
}
