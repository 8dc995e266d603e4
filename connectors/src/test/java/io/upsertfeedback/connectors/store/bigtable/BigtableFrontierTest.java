package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.FrontierState;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The frontier row: P and positions as minima over the subtask columns, fencing, and folding on rescale. */
class BigtableFrontierTest {
    private BigtableFrontier frontier;

    @BeforeEach
    void setUp() throws IOException {
        String table = TestBigtable.freshTable("frontier");
        frontier = new BigtableFrontier(TestBigtable.connection(), table, "store-" + table, false);
    }

    @Test
    void anEmptyStoreHasNoFrontier() throws IOException {
        assertEquals(new FrontierState(Long.MIN_VALUE, Map.of()), frontier.read());
    }

    @Test
    void pIsTheMinimumOverSubtasksAndPositionsThePerPartitionMinimum() throws IOException {
        frontier.claim("e1", 3, Duration.ofMinutes(1));
        assertEquals(Long.MIN_VALUE, frontier.read().p(), "a claim does not move P");
        frontier.advance("e1", 0, new FrontierState(10L, Map.of(0, 5L)));
        frontier.advance("e1", 1, new FrontierState(7L, Map.of(0, 3L, 1, 9L)));
        assertEquals(Long.MIN_VALUE, frontier.read().p(), "subtask 2 has acknowledged nothing yet");
        frontier.advance("e1", 2, new FrontierState(12L, Map.of(1, 4L)));
        assertEquals(new FrontierState(7L, Map.of(0, 3L, 1, 4L)), frontier.read());
    }

    @Test
    void aSecondWriterFailsFastWhileTheFirstHoldsTheLease() throws IOException {
        frontier.claim("e1", 1, Duration.ofMinutes(1));
        frontier.claim("e1", 1, Duration.ofMinutes(1));
        FencedException e = assertThrows(FencedException.class, () -> frontier.claim("e2", 1, Duration.ofMinutes(1)));
        assertTrue(e.getMessage().contains("e1") && e.getMessage().contains("store-frontier"), e.getMessage());
        assertEquals("e1", frontier.leaseHolder());
    }

    @Test
    void aReleasedStoreCanBeClaimedOnceEverySubtaskReleased() throws IOException {
        frontier.claim("e1", 2, Duration.ofMinutes(1));
        frontier.release("e1", 0);
        assertThrows(FencedException.class, () -> frontier.claim("e2", 1, Duration.ofMinutes(1)), "subtask 1 still runs");
        frontier.release("e1", 1);
        frontier.claim("e2", 1, Duration.ofMinutes(1));
        assertEquals("e2", frontier.leaseHolder());
    }

    @Test
    void aNewWriterTakesOverAnExpiredLeaseAndFencesTheOldOne() throws IOException {
        frontier.claim("e1", 1, Duration.ofMinutes(1));
        frontier.advance("e1", 0, new FrontierState(5L, Map.of()));
        frontier.claim("e2", 1, Duration.ZERO);
        FencedException e = assertThrows(FencedException.class, () -> frontier.advance("e1", 0, new FrontierState(9L, Map.of())));
        assertTrue(e.getMessage().contains("e2"), e.getMessage());
        assertThrows(FencedException.class, () -> frontier.heartbeat("e1", 0));
        assertEquals(5L, frontier.read().p());
    }

    @Test
    void rescalingFoldsTheOldColumnsIntoTheNewOnes() throws IOException {
        frontier.claim("e1", 3, Duration.ofMinutes(1));
        frontier.advance("e1", 0, new FrontierState(10L, Map.of(0, 5L)));
        frontier.advance("e1", 1, new FrontierState(7L, Map.of(0, 3L, 1, 9L)));
        frontier.advance("e1", 2, new FrontierState(12L, Map.of(2, 1L)));
        FrontierState before = frontier.read();

        frontier.claim("e2", 2, Duration.ZERO);
        assertEquals(before, frontier.read(), "P and positions survive scaling in");
        frontier.advance("e2", 0, new FrontierState(20L, Map.of(0, 8L, 1, 10L, 2, 2L)));
        assertEquals(7L, frontier.read().p(), "subtask 1 still holds the folded frontier; no stale third column");
        frontier.advance("e2", 1, new FrontierState(15L, Map.of(0, 9L, 1, 11L, 2, 3L)));
        assertEquals(new FrontierState(15L, Map.of(0, 8L, 1, 10L, 2, 2L)), frontier.read());

        frontier.claim("e3", 4, Duration.ZERO);
        assertEquals(new FrontierState(15L, Map.of(0, 8L, 1, 10L, 2, 2L)), frontier.read(), "and scaling out");
    }
}
