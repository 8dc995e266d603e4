package io.upsertfeedback.connectors.store.bigtable;

import io.upsertfeedback.connectors.embedded.TestBigtable;
import io.upsertfeedback.connectors.store.FencedException;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.PersistFrontierContractTest;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.RetriesExhaustedWithDetailsException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The frontier contract on the Bigtable emulator (row {@code f} of a fresh table). */
class BigtableFrontierTest extends PersistFrontierContractTest {
    private String table;

    @Override
    protected PersistFrontier newFrontier() throws IOException {
        table = TestBigtable.freshTable("frontier");
        return new BigtableFrontier(TestBigtable.connection(), table, "store-frontier", false);
    }

    /**
     * Issue 11, point 8: the running job's host clock is an hour behind the new job's. Its
     * heartbeats looked an hour old, so the new job took the store over from a live writer. Now
     * a heartbeat that moves is alive, whatever the clock that wrote it.
     */
    @Test
    void aLiveWriterWhoseClockIsAnHourBehindIsNotTakenOver() throws Exception {
        PersistFrontier behind = new BigtableFrontier(TestBigtable.connection(), table, "store-frontier", false,
                () -> System.currentTimeMillis() - Duration.ofHours(1).toMillis());
        try (AutoCloseable running = heartbeating(behind.claim("e1", 0, 1, Duration.ofSeconds(30)))) {
            assertThrows(FencedException.class, () -> frontier.claim("e2", 0, 1, Duration.ofSeconds(30)));
        }
    }

    /** The HBase adapter reports an interrupted read as a per-row failure of a RetriesExhaustedWithDetailsException. */
    @Test
    void aReadInterruptedInTheAdapterIsAnInterruption() {
        RetriesExhaustedWithDetailsException interrupted = new RetriesExhaustedWithDetailsException(
                List.of(new InterruptedIOException()), List.of(new Get(new byte[] {1})), List.of("localhost:1"));
        assertInstanceOf(InterruptedIOException.class, BigtableFrontier.interruptedOr(interrupted));
        RetriesExhaustedWithDetailsException failed = new RetriesExhaustedWithDetailsException(
                List.of(new IOException("UNAVAILABLE")), List.of(new Get(new byte[] {1})), List.of("localhost:1"));
        assertSame(failed, BigtableFrontier.interruptedOr(failed));
    }
}
