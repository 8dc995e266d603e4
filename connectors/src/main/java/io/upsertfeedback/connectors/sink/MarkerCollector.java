package io.upsertfeedback.connectors.sink;

import io.upsertfeedback.connectors.store.Pools;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.connectors.store.TierWrapper;
import io.upsertfeedback.connectors.store.TieredStore;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Collection;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The sink's committer: collects the deletion markers of a checkpoint once it has completed.
 *
 * <p>A deletion marker keeps an older write of its key (a replay) from bringing the key back; it
 * is needed only while such a replay can come. Every marker in a committable was acknowledged
 * before its checkpoint's barrier passed the sink, so its delete was read before the source's
 * checkpointed offsets, and once the checkpoint has completed, a restore (failover, or
 * {@code flink run -s} of this or a later checkpoint) replays only commands after it: the marker
 * can go ({@link TieredStore#collectMarker}: only if the row still holds exactly it). Without
 * this the table grows with every key ever deleted. Restoring an older savepoint can replay older
 * writes of a collected key: they show until the replay reaches the delete again.
 *
 * <p>Collection is best effort: a marker that cannot be removed stays (it is correct, only
 * larger), with a warning and the {@code markersNotCollected} counter; it never fails the job.
 *
 * <p><b>In the background.</b> A removal is a conditional single-row mutation, one round trip
 * (about 360 a second one at a time on the emulator), and {@link #commit} runs on the sink's task
 * thread: removing a checkpoint's markers there stopped the pipeline for as long (20,000 deletes
 * stop it about a minute). {@code commit} hands the
 * markers to {@link #CONCURRENCY} collector threads and returns; it waits only while more than
 * {@link #MAX_WAITING} markers wait (backpressure instead of an unbounded heap). {@link #close}
 * lets the waiting ones finish, for at most {@link WindowedExecutor#CLOSE_GRACE}.
 */
final class MarkerCollector implements Committer<DeleteMarkers> {
    private static final Logger LOG = LoggerFactory.getLogger(MarkerCollector.class);

    private final Configuration config;
    private final TierWrapper tiers;
    private final String owner;
    /** Markers removed at once. */
    static final int CONCURRENCY = 4;
    /** Markers waiting for removal at most before {@link #commit} waits. */
    static final int MAX_WAITING = 100_000;

    private final Counter collected;
    private final Counter notCollected;
    private final Semaphore room = new Semaphore(MAX_WAITING);
    private final ThreadPoolExecutor collectors;
    private volatile StoreHandle handle;

    MarkerCollector(Configuration config, TierWrapper tiers, String owner, MetricGroup metrics) {
        this.config = config;
        this.tiers = tiers;
        this.owner = owner;
        this.collected = metrics.counter("markersCollected", new ThreadSafeSimpleCounter());
        this.notCollected = metrics.counter("markersNotCollected", new ThreadSafeSimpleCounter());
        this.collectors = new ThreadPoolExecutor(CONCURRENCY, CONCURRENCY, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "marker-collector " + owner);
            t.setDaemon(true);
            return t;
        });
        collectors.allowCoreThreadTimeOut(true);
    }

    @Override
    public void commit(Collection<CommitRequest<DeleteMarkers>> requests) throws IOException, InterruptedException {
        if (handle == null) {
            handle = Stores.open(config, owner, tiers);
        }
        TieredStore store = handle.store();
        for (CommitRequest<DeleteMarkers> request : requests) {
            for (DeleteMarkers.Marker m : request.getCommittable().markers()) {
                room.acquire();
                collectors.execute(() -> {
                    try {
                        collect(store, m);
                    } finally {
                        room.release();
                    }
                });
            }
        }
    }

    private void collect(TieredStore store, DeleteMarkers.Marker m) {
        try {
            if (store.collectMarker(store.prepare(new TieredStore.Write(m.key(), null, m.time(), m.partition(), m.offset())))) {
                collected.inc();
            }
        } catch (IOException | RuntimeException e) {
            notCollected.inc();
            LOG.warn("a deletion marker of {} could not be collected; it stays: {}", handle.name(), e.toString());
        }
    }

    @Override
    public void close() throws Exception {
        if (!Pools.stopAfterRunning(collectors, WindowedExecutor.CLOSE_GRACE)) {
            LOG.warn("deletion markers of {} still waited for collection at close; they stay", owner);
        }
        if (handle != null) {
            handle.close();
        }
    }
}
