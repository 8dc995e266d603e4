package io.upsertfeedback.operators;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The operator's write-back buffer of key states on the heap (the hot path).
 *
 * <p>Stashing every command in the state backend costs, per command, a state read and write at
 * arrival, a timer registered and fired, and a read and write at the drain. Instead a key accepting
 * a command is read once from the backend ({@link #admit}, unless buffered) and stays buffered; a
 * drain pass drains the buffered keys holding stash entries ({@link #forEachStashed}), which stay
 * buffered. A pass visits only the keys whose first stash entry is below its bound (a queue of the
 * buffered keys by the time of their first entry), not the whole buffer nor every key holding
 * entries: on a backlog spread over many ticks, walking a buffer of 100,000 keys, or the keys
 * holding entries above the bound (many, when one partition is read ahead of another), at every
 * watermark took a fifth of the task thread (JFR profiles of the 24-hour backlog benchmark). A key leaves the buffer (one state write, {@link Store#writeBack}) only when the buffer
 * is full ({@link #fit}); at a snapshot ({@link #writeBackAll}) the keys changed since they were
 * last read or written are written back and stay buffered. So a key costs one state read when it
 * enters the buffer and one write when it leaves or a checkpoint comes after it changed, and no
 * timer, whatever number of commands it gets and drains meanwhile. (Emptying the buffer at every
 * snapshot, as it once did, made every key a backlog keeps touching be read back from the state
 * backend after each checkpoint: with the write-backs, a sixth of the operator's task thread on
 * the 24-hour backlog, JFR.) The buffer knows no Flink type: the backend comes in as a
 * {@link Store}.
 *
 * <p>Its contract:
 * <ul>
 *   <li><b>Exact.</b> The buffer holds the authoritative state of its keys: the operator reads a
 *       key's state from the buffer first ({@link #get}), and a buffered state behaves exactly
 *       like the stored one (a deleted key keeps its order key in both: {@link KeyState#isEmpty}).
 *   <li><b>Timers.</b> A key read with stash entries already has its timer, at its first entry; that
 *       entry only leaves the stash when the timer fires (the stash grows at its end, a replaced last
 *       entry keeps its time), so the buffer records whether a timer exists ({@code Buffered.timerAt},
 *       cleared by {@link #timerFired}) and never asks for a second one.
 *   <li><b>Second chance (CLOCK).</b> Eviction takes the oldest key (in the order keys entered the
 *       buffer or got their second chance), unless it was admitted again since eviction last looked
 *       at it: then it goes to the back once. That
 *       keeps hot keys as LRU would, without relinking a list node on every hit: a hit only sets a
 *       flag, which also spares the garbage collector a write into an old object.
 *   <li><b>Spill.</b> A spilled key's state is written back when it changed since it was last read
 *       or written ({@code Buffered.dirty}), with a timer at its first stash entry unless it has
 *       one: from then on it is a plain stashed key.
 *   <li><b>Snapshot.</b> {@link #writeBackAll} (at every snapshot) writes back every changed key,
 *       with its timer as a spill would, and keeps it buffered, so a checkpoint holds what the
 *       unbuffered algorithm would hold and recovery (and rescaling) never needs the buffer. A key
 *       counts as changed from the moment it is admitted (every command may change it: its
 *       partition times, its stash) or {@link #changed}, until it is written back.
 *   <li><b>Bounded heap.</b> The buffered keys' estimated heap ({@link #estimate}: key and value
 *       bytes plus a fixed overhead per key and per pending command) is within the configured size
 *       after every {@link #fit}, so large values cannot blow it up: the heap is bounded by the
 *       option ({@link UpsertOptions#BUFFER_SIZE}), independent of the input size and of the number
 *       of keys. The estimate is kept incrementally; {@link #bytes} checks it against a recount.
 * </ul>
 */
final class KeyStateBuffer {
    /** Where a key's state lives when it is not buffered: the operator's keyed state and its timers. */
    interface Store {
        /** The stored state of the key being admitted (the backend's current key), or {@code null}. */
        KeyState read() throws Exception;

        /**
         * Writes {@code key}'s state back (clearing it when {@link KeyState#isEmpty}), first
         * registering a timer at its first stash entry when {@code timer}. Makes {@code key} current.
         */
        void writeBack(String key, KeyState state, boolean timer) throws Exception;
    }

    /** How a drain pass changes a buffered key holding stash entries ({@link #forEachStashed}). */
    @FunctionalInterface
    interface Change {
        void apply(KeyState state, byte[] key, int keyHash);
    }

    /** A buffered key: its state, its key bytes and their hash (for the updates) and the time of its pending timer. */
    static final class Buffered {
        final KeyState state;
        final byte[] key;
        /** {@link Update#keyHash(byte[])} of {@link #key}, computed once, while the bytes are at hand. */
        final int keyHash;
        /**
         * A timer of the key is pending at this time or earlier ({@code Long.MAX_VALUE}: none known):
         * the key had stashed entries when its state was read (their first has a timer).
         */
        private long timerAt;
        /** Admitted since eviction last looked at it: it gets a second chance (CLOCK). */
        private boolean referenced;
        /** Its share of {@link #bytes}. */
        private long bytes;
        /** The earliest time it is queued at in {@link #due} ({@code Long.MAX_VALUE}: not queued). */
        private long queuedAt = Long.MAX_VALUE;
        /** Still in the buffer (a spilled entry is dead: a key admitted again gets a new one). */
        private boolean resident = true;
        /** Admitted or changed since its state was last read from or written back to the store. */
        private boolean dirty = true;

        private Buffered(KeyState state, byte[] key) {
            this.state = state;
            this.key = key;
            this.keyHash = Update.keyHash(key);
            this.timerAt = state.stash.isEmpty() ? Long.MAX_VALUE : state.stash.get(0).time();
        }
    }

    /*
     * Heap estimate of a buffered key: a fixed overhead (map node, key string, Buffered, KeyState,
     * stash list: about 300 bytes on a 64-bit JVM with compressed pointers), the key bytes twice
     * (raw and as the Flink key), its applied value and its pending commands. An order of
     * magnitude, so that the buffer is bounded by bytes whatever the value sizes are.
     */
    private static final int KEY_OVERHEAD = 320;
    private static final int PENDING_OVERHEAD = 64;

    private final long limit;
    private final Store store;
    /** The buffered keys, in CLOCK order (the order they entered, or got their second chance). */
    private final LinkedHashMap<String, Buffered> buffer = new LinkedHashMap<>();
    /** Estimated heap of the buffered keys, kept incrementally. */
    private long bufferedBytes;
    /**
     * Every resident key holding stash entries, in a bucket at the time of its first entry ({@code
     * Buffered.queuedAt}); also stale entries (a key queued again at an earlier time, drained by its
     * timer, or spilled), which a pass skips, and {@link #queue} drops when they outnumber the
     * buffered keys, so that a queue no pass visits, as in a storage stall, does not keep spilled
     * states alive. Buckets per time, not a binary heap of keys: times are ticks, so a pass takes
     * whole buckets in order and walks each as an array, where a heap sifted through scattered
     * entries for every key (a tenth of the task thread on the 24-hour backlog, JFR).
     */
    private final TreeMap<Long, ArrayList<Buffered>> due = new TreeMap<>();
    /** Entries in {@link #due}, live and stale. */
    private int queued;

    /** A buffer of at most {@code limit} estimated bytes after each {@link #fit}. */
    KeyStateBuffer(long limit, Store store) {
        this.limit = limit;
        this.store = store;
    }

    /** The buffered entry of {@code key}, or {@code null}; does not count as a hit. */
    Buffered get(String key) {
        return buffer.get(key);
    }

    /**
     * The buffered entry of the current key {@code key}, marked as a hit, or on a miss its state read
     * from the store (a new state when absent) and buffered at the back. Call {@link #fit} once done.
     */
    Buffered admit(String key, byte[] rawKey) throws Exception {
        Buffered buffered = buffer.get(key);
        if (buffered != null) {
            buffered.referenced = true;
            buffered.dirty = true;
            return buffered;
        }
        KeyState state = store.read();
        buffered = new Buffered(state == null ? new KeyState() : state, rawKey);
        buffer.put(key, buffered);
        resize(buffered, estimate(buffered));
        queue(buffered);
        return buffered;
    }

    /** Queues a resident key at its first stash entry, unless it is queued at that time or earlier. */
    private void queue(Buffered buffered) {
        if (buffered.state.stash.isEmpty()) {
            return;
        }
        long first = buffered.state.stash.get(0).time();
        if (first < buffered.queuedAt) {
            if (queued >= 2 * buffer.size() + 16) {
                dropStale();
            }
            buffered.queuedAt = first;
            due.computeIfAbsent(first, t -> new ArrayList<>()).add(buffered);
            queued++;
        }
    }

    /** Whether {@code buffered}, in the bucket at {@code time}, is the live entry of a resident key (any other is stale). */
    private static boolean live(long time, Buffered buffered) {
        return buffered.resident && time == buffered.queuedAt;
    }

    private void dropStale() {
        for (Iterator<Map.Entry<Long, ArrayList<Buffered>>> it = due.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, ArrayList<Buffered>> bucket = it.next();
            long time = bucket.getKey();
            int before = bucket.getValue().size();
            bucket.getValue().removeIf(b -> !live(time, b));
            queued -= before - bucket.getValue().size();
            if (bucket.getValue().isEmpty()) {
                it.remove();
            }
        }
    }

    /** {@code added} entered the key's stash, displacing {@code displaced} ({@code null}: none). */
    void stashed(Buffered buffered, KeyState.Pending added, KeyState.Pending displaced) {
        long bytes = buffered.bytes + pendingBytes(added);
        resize(buffered, displaced == null ? bytes : bytes - pendingBytes(displaced));
        queue(buffered);
    }

    /** A buffered key's state changed (its value or stash): it is re-estimated. */
    void changed(Buffered buffered) {
        buffered.dirty = true;
        resize(buffered, estimate(buffered));
    }

    /**
     * Applies {@code change} to every buffered key holding stash entries below {@code bound} (then
     * {@link #changed}); drops from the list the keys that hold none or were spilled.
     */
    void forEachStashed(long bound, Change change) {
        while (!due.isEmpty() && due.firstKey() < bound) {
            Map.Entry<Long, ArrayList<Buffered>> bucket = due.pollFirstEntry();
            long time = bucket.getKey();
            queued -= bucket.getValue().size();
            for (Buffered buffered : bucket.getValue()) {
                if (!live(time, buffered)) {
                    continue;
                }
                buffered.queuedAt = Long.MAX_VALUE;
                if (!buffered.state.stash.isEmpty() && buffered.state.stash.get(0).time() < bound) {
                    change.apply(buffered.state, buffered.key, buffered.keyHash);
                    changed(buffered);
                }
                queue(buffered);
            }
        }
    }

    /** Entries in the queue a pass visits (at most twice the buffered keys, plus 16). */
    int queuedKeys() {
        return queued;
    }

    /** {@code key}'s timer fired: its buffered entry (now without a timer), or {@code null}. */
    Buffered timerFired(String key) {
        Buffered buffered = buffer.get(key);
        if (buffered != null) {
            buffered.timerAt = Long.MAX_VALUE;
        }
        return buffered;
    }

    /**
     * Spills keys, in CLOCK order, until the estimate is within the limit: the oldest key goes to the
     * store, unless it was referenced since eviction last looked (then it goes to the back once).
     * Changes the current key.
     */
    void fit() throws Exception {
        while (bufferedBytes > limit) {
            Iterator<Map.Entry<String, Buffered>> eldest = buffer.entrySet().iterator();
            Map.Entry<String, Buffered> entry = eldest.next();
            eldest.remove();
            Buffered buffered = entry.getValue();
            if (buffered.referenced) {
                buffered.referenced = false;
                buffer.put(entry.getKey(), buffered);
                continue;
            }
            resize(buffered, 0);
            buffered.resident = false;
            writeBack(entry.getKey(), buffered);
        }
    }

    /**
     * Writes back every key changed since it was last read or written, keeping it buffered (at a
     * snapshot: the store then holds every buffered state). Changes the current key.
     */
    void writeBackAll() throws Exception {
        for (Map.Entry<String, Buffered> entry : buffer.entrySet()) {
            writeBack(entry.getKey(), entry.getValue());
        }
    }

    /**
     * Writes a key's state back if it changed, or if its first stash entry has no timer yet (then
     * asking for one); afterwards the store holds it and its timer.
     */
    private void writeBack(String key, Buffered buffered) throws Exception {
        List<KeyState.Pending> stash = buffered.state.stash;
        boolean timer = !stash.isEmpty() && stash.get(0).time() < buffered.timerAt;
        if (buffered.dirty || timer) {
            store.writeBack(key, buffered.state, timer);
            buffered.dirty = false;
            if (timer) {
                buffered.timerAt = stash.get(0).time();
            }
        }
    }

    /**
     * Estimated heap of the buffered keys. Also checks that the running total, kept incrementally on
     * the hot path, equals the estimate recomputed from the buffered states.
     */
    long bytes() {
        long recomputed = buffer.values().stream().mapToLong(KeyStateBuffer::estimate).sum();
        if (recomputed != bufferedBytes) {
            throw new IllegalStateException("buffer estimate drifted: " + bufferedBytes + " kept, " + recomputed + " recomputed");
        }
        return bufferedBytes;
    }

    /** Sets a buffered key's share of the estimate. */
    private void resize(Buffered buffered, long bytes) {
        bufferedBytes += bytes - buffered.bytes;
        buffered.bytes = bytes;
    }

    private static long estimate(Buffered buffered) {
        long bytes = KEY_OVERHEAD + 2L * buffered.key.length + valueBytes(buffered.state.value);
        for (KeyState.Pending pending : buffered.state.stash) {
            bytes += pendingBytes(pending);
        }
        return bytes;
    }

    private static long pendingBytes(KeyState.Pending pending) {
        return PENDING_OVERHEAD + valueBytes(pending.value());
    }

    private static long valueBytes(UpsertValue value) {
        return value == null ? 0 : 48L + value.bytes().length + (value.isError() ? 64L + value.error().length() : 0);
    }
}
