package io.upsertfeedback.connectors.store;

import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.schemas.StoredValueMeta;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * The tiered store: small values inline in the {@link HighVolumeTier}, large ones in the
 * {@link LongTermTier} behind a redirect tombstone (the model of Sentry's objectstore).
 *
 * <p><b>Routing.</b> A value is encoded ({@link ValueCodec}); if the encoded size is at most
 * {@code inlineThreshold} it is stored inline, else as a long-term object.
 *
 * <p><b>Plain writes</b> ({@link #writePlain}): inline puts and deletes of keys whose row holds no
 * tombstone (the caller knows the key's previous value was inline or absent) go to the high-volume
 * tier in one batch of versioned writes, without reading: the row's order of versions (by time)
 * decides which write is the latest, so a late or replayed write never becomes the row's state
 * over a newer one (SPEC 4.5, 4.9). This is the common case and it costs one round trip per batch.
 *
 * <p><b>Conditional writes</b> ({@link #write}, and {@link #put}/{@link #delete}); every
 * operation loops until its compare-and-write decides:
 * <ol>
 *   <li>Read the row. If it holds a later write in the key's order {@code (time, partition,
 *       offset)}, stop ({@link Outcome#STALE}); if it holds this very write (a replay), stop
 *       ({@link Outcome#WRITTEN}).</li>
 *   <li>Small put / delete over a row without tombstone: {@code compareAndWrite} from the state
 *       read; a conflict (the row changed) goes round again.</li>
 *   <li>Anything that replaces a tombstone, and every large put: first store
 *       {@link PendingCleanup} notes for each object that may end up unreferenced (the new revision
 *       and the tombstone's current target), then upload the new revision (large puts), then
 *       {@code compareAndWrite} from the state read: <b>the commit point</b>. Success or failure,
 *       the notes go to the {@link Cleaner}, which deletes whichever object the row does not
 *       reference: the old one after a success, the new one after a lost race or a failure before
 *       the swap. After an unknown outcome (retries exhausted) the cleaner's re-read decides, so
 *       committed data is never deleted. A lost race goes round again with a fresh revision.</li>
 * </ol>
 * Hence: a tombstone is written only after its object exists (no dangling tombstone from a write;
 * a dangling one from outside reads as absent), every object not referenced has a note until
 * it is deleted (no orphan survives quiescence, even across crashes: see
 * {@link #recoverPendingCleanups}), and a row is always in exactly one state.
 *
 * <p>Every tier call is retried on transient errors by the {@link Retrier}; each is idempotent.
 * Thread-safe; the caller serialises operations on one key if it needs their order (the sink does).
 */
public final class TieredStore implements AutoCloseable {
    /**
     * The longest key, in bytes, the store accepts: the one key limit of the whole job (SPEC section
     * 2). Bigtable row keys are at most 4 KiB and a key's row key adds a 5-byte prefix; every
     * {@link HighVolumeTier} enforces the same limit, and ingestion turns a longer key into a dead
     * letter before it reaches the operator.
     */
    public static final int MAX_KEY_BYTES = 4096 - 5;

    private final HighVolumeTier highVolume;
    private final LongTermTier longTerm;
    private final long inlineThreshold;
    private final Retrier retrier;
    private final String owner;
    private final StoreMetrics metrics = new StoreMetrics();
    private final Cleaner cleaner;
    private final AutoCloseable extraResource;
    private final ValueCodec codec = new ValueCodec();

    /** Outcome of a write. */
    public enum Outcome { WRITTEN, STALE }

    /**
     * @param owner identifies this writer in pending-cleanup notes (see {@link #recoverPendingCleanups})
     * @param extraResource closed after the tiers (e.g. an embedded emulator); may be {@code null}
     */
    public TieredStore(HighVolumeTier highVolume, LongTermTier longTerm, long inlineThreshold, Retrier retrier,
                       int cleanupCapacity, String owner, AutoCloseable extraResource) {
        this.highVolume = highVolume;
        this.longTerm = longTerm;
        this.inlineThreshold = inlineThreshold;
        this.retrier = retrier;
        this.owner = owner;
        this.extraResource = extraResource;
        this.cleaner = new Cleaner(highVolume, longTerm, retrier, metrics, cleanupCapacity, 2);
    }

    /** The high-volume tier (job's local mode and tests scan its rows: tombstones, cleanup notes). */
    public HighVolumeTier highVolume() {
        return highVolume;
    }

    public LongTermTier longTerm() {
        return longTerm;
    }

    public StoreMetrics metrics() {
        return metrics;
    }

    public Retrier retrier() {
        return retrier;
    }

    public int cleanupBacklog() {
        return cleaner.backlog();
    }

    public String describe() {
        return highVolume.describe() + " + " + longTerm.describe();
    }

    /**
     * One write of a key at a time, by the command at {@code (partition, offset)}.
     *
     * @param value the new value, or {@code null} for a delete
     */
    public record Write(byte[] key, UpsertValue value, long time, int partition, long offset) {}

    /** A write encoded for its tier: the row's next state, and the object's bytes for a large value. */
    public static final class Prepared {
        private final byte[] key;
        private final RowState small;
        private final byte[] object;
        private final StoredValueMeta meta;

        private Prepared(byte[] key, RowState small, byte[] object, StoredValueMeta meta) {
            this.key = key;
            this.small = small;
            this.object = object;
            this.meta = meta;
        }

        /** Whether the value goes inline (or is a delete): no long-term object. */
        public boolean inline() {
            return object == null;
        }

        public byte[] key() {
            return key;
        }
    }

    /** Encodes a write once, for {@link #writePlain} or {@link #write}. */
    public Prepared prepare(Write w) {
        if (w.value() == null) {
            StoredValueMeta meta = new StoredValueMeta(io.upsertfeedback.schemas.ValueEncoding.RAW, 0L, w.time(), w.partition(), w.offset(), null);
            return new Prepared(w.key(), RowState.deleted(meta), null, meta);
        }
        ValueCodec.Encoded encoded = codec.encode(w.value().bytes());
        StoredValueMeta meta = new StoredValueMeta(encoded.encoding(), (long) w.value().bytes().length, w.time(), w.partition(),
                w.offset(), w.value().error());
        boolean large = encoded.bytes().length > inlineThreshold;
        return new Prepared(w.key(), large ? null : RowState.inline(encoded.bytes(), meta), large ? encoded.bytes() : null, meta);
    }

    /** Whether {@code value} is stored inline (its encoded size is at most the inline threshold). */
    public boolean storesInline(UpsertValue value) {
        return value.bytes().length <= inlineThreshold || codec.encode(value.bytes()).bytes().length <= inlineThreshold;
    }

    /**
     * Writes inline values and deletes in one batch of versioned writes, without reading (see the
     * class doc). Only for keys whose row holds no tombstone; each write must be {@link Prepared#inline}.
     */
    public void writePlain(List<Prepared> writes) throws IOException {
        List<StoredRow> rows = new ArrayList<>(writes.size());
        for (Prepared p : writes) {
            if (!p.inline()) {
                throw new IllegalArgumentException("a large value needs the conditional path");
            }
            rows.add(new StoredRow(p.key, p.small));
        }
        try {
            retrier.call(() -> {
                highVolume.putAll(rows);
                return null;
            });
        } catch (IOException | RuntimeException e) {
            metrics.failures.increment();
            throw e;
        }
        rows.forEach(r -> count(r.state()));
    }

    /**
     * Removes the deletion marker that {@code delete} wrote (a {@link #prepare prepared} delete), with
     * its row, if the row still holds exactly that marker. A marker is there only to refuse older
     * writes of its key, so once nothing can bring one any more the store need not keep every key
     * ever deleted: the sink calls this after the checkpoint that covers the delete has completed
     * (a restore starts past it). A row written or fenced since keeps its state.
     *
     * @return whether the row is gone
     */
    public boolean collectMarker(Prepared delete) throws IOException {
        if (delete.small == null || delete.small.kind() != RowState.Kind.DELETED) {
            throw new IllegalArgumentException("not a delete");
        }
        return retrier.call(() -> highVolume.removeMarker(delete.key, delete.small));
    }

    /** Stores {@code value} for {@code key} as written at {@code time} by the command at {@code (partition, offset)}. */
    public Outcome put(byte[] key, UpsertValue value, long time, int partition, long offset) throws IOException {
        return write(prepare(new Write(key, value, time, partition, offset)));
    }

    /** Deletes {@code key} at {@code time} (the deleting command's order key is kept in the deletion marker). */
    public Outcome delete(byte[] key, long time, int partition, long offset) throws IOException {
        return write(prepare(new Write(key, null, time, partition, offset)));
    }

    /** The conditional path (see the class doc): right whatever the row holds. */
    public Outcome write(Prepared w) throws IOException {
        try {
            while (true) {
                RowState current = retrier.call(() -> highVolume.read(w.key));
                if (current.isLaterThan(w.meta)) {
                    metrics.staleWrites.increment();
                    return Outcome.STALE;
                }
                if (current.meta() != null && current.meta().equals(w.meta)) {
                    return Outcome.WRITTEN; // this very command is stored already: a replay is a no-op
                }
                if (w.small != null && !current.isTombstone()) {
                    if (retrier.call(() -> highVolume.compareAndWrite(w.key, current, w.small))) {
                        count(w.small);
                        return Outcome.WRITTEN;
                    }
                } else if (swap(w.key, current, w.small, w.object, w.meta)) {
                    return Outcome.WRITTEN;
                }
                metrics.conditionConflicts.increment();
            }
        } catch (IOException | RuntimeException e) {
            metrics.failures.increment();
            throw e;
        }
    }

    /** The tombstone protocol: notes, upload, compare-and-write, cleanup. Returns whether the swap committed. */
    private boolean swap(byte[] key, RowState current, RowState small, byte[] object, StoredValueMeta meta) throws IOException {
        String opId = owner + "/" + UUID.randomUUID();
        List<PendingCleanup> notes = new ArrayList<>(2);
        RowState next = object == null ? small : RowState.tombstone(longTerm.newObjectName(key), meta);
        if (object != null) {
            notes.add(new PendingCleanup(opId + "/n", owner, next.target(), key));
        }
        if (current.isTombstone()) {
            notes.add(new PendingCleanup(opId + "/o", owner, current.target(), key));
        }
        retrier.call(() -> {
            highVolume.addPending(notes);
            return null;
        });
        try {
            if (object != null) {
                retrier.call(() -> {
                    longTerm.write(next.target(), object);
                    return null;
                });
                metrics.longTermUploads.increment();
            }
            boolean committed = retrier.call(() -> highVolume.compareAndWrite(key, current, next));
            if (committed) {
                count(next);
            }
            return committed;
        } finally {
            cleaner.submit(notes);
        }
    }

    private void count(RowState written) {
        switch (written.kind()) {
            case INLINE -> {
                metrics.inlinePuts.increment();
                metrics.inlineBytes.add(written.payload().length);
            }
            case TOMBSTONE -> {
                metrics.tombstonePuts.increment();
                metrics.longTermBytes.add(written.meta().getSize());
            }
            default -> metrics.deletes.increment();
        }
    }

    /** The live value of {@code key}; a dangling tombstone reads as absent. */
    public Optional<StoredEntry> get(byte[] key) throws IOException {
        return Optional.ofNullable(resolve(key, retrier.call(() -> highVolume.read(key))));
    }

    private StoredEntry resolve(byte[] key, RowState state) throws IOException {
        byte[] stored = switch (state.kind()) {
            case INLINE -> state.payload();
            case TOMBSTONE -> {
                metrics.longTermReads.increment();
                yield retrier.call(() -> longTerm.read(state.target()));
            }
            default -> null;
        };
        if (stored == null) {
            return null;
        }
        StoredValueMeta meta = state.meta();
        byte[] raw = ValueCodec.decode(meta.getEncoding(), stored, meta.getSize());
        UpsertValue value = meta.getError() == null ? UpsertValue.of(raw) : UpsertValue.error(raw, meta.getError().toString());
        return new StoredEntry(key, value, meta);
    }

    /** Live entries in row order, starting after {@code afterKey} ({@code null}: from the start). */
    public CloseableIterator<StoredEntry> scan(byte[] afterKey) throws IOException {
        CloseableIterator<StoredRow> rows = retrier.call(() -> highVolume.scan(afterKey));
        return new CloseableIterator<>() {
            private StoredEntry next;

            @Override
            public boolean hasNext() {
                try {
                    while (next == null && rows.hasNext()) {
                        StoredRow row = rows.next();
                        next = resolve(row.key(), row.state());
                    }
                    return next != null;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }

            @Override
            public StoredEntry next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                StoredEntry e = next;
                next = null;
                return e;
            }

            @Override
            public void close() throws IOException {
                rows.close();
            }
        };
    }

    /** All live contents, keyed by {@link UpsertCommand#keyOf}: for dumps and tests. */
    public Map<String, StoredEntry> snapshot() throws IOException {
        Map<String, StoredEntry> out = new LinkedHashMap<>();
        try (CloseableIterator<StoredEntry> it = scan(null)) {
            it.forEachRemaining(e -> out.put(UpsertCommand.keyOf(e.key()), e));
        }
        return out;
    }

    /** Waits until every queued cleanup finished and batched mutations are durable. */
    public void drainCleanup() throws IOException {
        cleaner.drain();
    }

    /**
     * Resolves stored cleanup notes of writers that are gone (crashed or replaced), as chosen by
     * {@code deadOwner}; call before writing. Returns how many notes were resolved.
     */
    public int recoverPendingCleanups(Predicate<String> deadOwner) throws IOException {
        int n = 0;
        for (PendingCleanup note : retrier.call(highVolume::listPending)) {
            if (deadOwner.test(note.owner())) {
                cleaner.resolveFenced(note);
                n++;
            }
        }
        retrier.call(() -> {
            highVolume.flush();
            return null;
        });
        return n;
    }

    public String owner() {
        return owner;
    }

    @Override
    public void close() throws Exception {
        try (AutoCloseable extra = extraResource; HighVolumeTier hv = highVolume; LongTermTier lt = longTerm; Cleaner c = cleaner;
             ValueCodec v = codec) {
            // closes in reverse order: the codec's native contexts, cleaner, tiers, then the extra resource
        }
    }
}
