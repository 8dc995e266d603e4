package io.upsertfeedback.connectors.store;

/**
 * An opened store ({@link Stores#open}): the {@link TieredStore} and its {@link PersistFrontier}.
 * Closing it closes both.
 *
 * @param name the store's name in messages: high-volume table and long-term location
 */
public record StoreHandle(TieredStore store, PersistFrontier frontier, String name) implements AutoCloseable {

    @Override
    public void close() throws Exception {
        try {
            frontier.close();
        } finally {
            store.close();
        }
    }
}
