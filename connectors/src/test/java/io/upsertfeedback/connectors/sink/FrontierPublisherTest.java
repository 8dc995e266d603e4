package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.Retrier;
import io.upsertfeedback.connectors.store.memory.InMemoryFrontier;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The publisher on its own: releases racing from many completing operations publish frontiers that
 * never go backwards, and the last mark (the final {@code +inf}) is the one left published. Before,
 * the mark was chosen under a lock but handed to the frontier thread outside it, so an older mark
 * could overwrite a newer one, and the final mark could be lost.
 */
class FrontierPublisherTest {

    @Test
    void racingReleasesNeverPublishBackwardsAndKeepTheFinalMark() throws Exception {
        InMemoryFrontier frontier = new InMemoryFrontier();
        PersistFrontier.Lease real = frontier.claim("e", 0, 1, Duration.ofMinutes(1));
        List<Long> written = Collections.synchronizedList(new ArrayList<>());
        PersistFrontier.Lease recording = new PersistFrontier.Lease() {
            @Override
            public void advance(FrontierState state) throws java.io.IOException {
                written.add(state.p());
                real.advance(state);
            }

            @Override
            public void heartbeat() throws java.io.IOException {
                real.heartbeat();
            }

            @Override
            public void release() throws java.io.IOException {
                real.release();
            }
        };
        int marks = 2000;
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (FrontierPublisher publisher = new FrontierPublisher(recording, new Retrier(1, Duration.ofMillis(1), Duration.ofMillis(1)), 0,
                Duration.ofMinutes(1))) {
            for (int seq = 0; seq < marks; seq++) {
                publisher.mark(seq, seq == marks - 1 ? Long.MAX_VALUE : seq + 1, Map.of(0, (long) seq));
            }
            List<Future<?>> releases = new ArrayList<>();
            for (int seq = 0; seq < marks; seq++) {
                long completedBelow = seq + 1;
                releases.add(pool.submit(() -> publisher.release(completedBelow)));
            }
            for (Future<?> f : releases) {
                f.get();
            }
            publisher.publishNow();
            assertEquals(Long.MAX_VALUE, publisher.published());
        } finally {
            pool.shutdownNow();
        }
        assertEquals(Long.MAX_VALUE, frontier.read().p(), "the final mark is published");
        for (int i = 1; i < written.size(); i++) {
            assertTrue(written.get(i) > written.get(i - 1), "published frontiers only increase: " + written);
        }
    }
}
