package io.upsertfeedback.operators;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract of {@link KeyStateBuffer} (its class comment), one rule per test, against an
 * in-memory {@link KeyStateBuffer.Store} that records every read and write-back.
 */
class KeyStateBufferTest {
    /** A key with an empty state and a short key: its estimate, whatever the constants are. */
    private long emptyKeyBytes;

    /** The keyed state on the heap: a current key, the stored states, and a log of what the buffer did. */
    private static final class MemoryStore implements KeyStateBuffer.Store {
        final Map<String, KeyState> stored = new HashMap<>();
        final List<String> reads = new ArrayList<>();
        /** Write-backs in order: key, and whether a timer was asked for. */
        final List<String> writeBacks = new ArrayList<>();
        final List<String> timers = new ArrayList<>();
        String current;

        @Override
        public KeyState read() {
            reads.add(current);
            return stored.get(current);
        }

        @Override
        public void writeBack(String key, KeyState state, boolean timer) {
            current = key;
            writeBacks.add(key);
            if (timer) {
                timers.add(key);
            }
            if (state.isEmpty()) {
                stored.remove(key);
            } else {
                stored.put(key, state);
            }
        }
    }

    private final MemoryStore store = new MemoryStore();

    private KeyStateBuffer.Buffered admit(KeyStateBuffer buffer, String key) throws Exception {
        store.current = key;
        return buffer.admit(key, key.getBytes(StandardCharsets.ISO_8859_1));
    }

    private long nextOffset;

    private KeyState.Pending pending(long time, int valueBytes) {
        return new KeyState.Pending(time, time, 0, nextOffset++, UpsertValue.of(new byte[valueBytes]));
    }

    /** Stashes a command into a buffered key as the operator does (a newer one: it never loses). */
    private static void stash(KeyStateBuffer buffer, KeyStateBuffer.Buffered buffered, KeyState.Pending pending) {
        buffer.stashed(buffered, pending, buffered.state.stash(pending));
    }

    /** A buffer with room for {@code keys} keys with an empty state and a one-letter key. */
    private KeyStateBuffer bufferOfKeys(int keys) throws Exception {
        KeyStateBuffer probe = new KeyStateBuffer(Long.MAX_VALUE, new MemoryStore());
        probe.admit("k", new byte[1]);
        emptyKeyBytes = probe.bytes();
        return new KeyStateBuffer(keys * emptyKeyBytes, store);
    }

    @Test
    void boundedHeapEstimateNeverExceedsTheSizeAfterFit() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        long limit = 20_000;
        KeyStateBuffer buffer = new KeyStateBuffer(limit, store);
        long time = 0;
        for (int step = 0; step < 20_000; step++) {
            KeyStateBuffer.Buffered buffered = admit(buffer, "key" + random.nextInt(300));
            // values from nothing to larger than the whole buffer: bytes, not keys, bound it
            int size = random.nextInt(20) == 0 ? random.nextInt(30_000) : random.nextInt(200);
            stash(buffer, buffered, pending(time += random.nextInt(2), size));
            buffer.fit();
            assertTrue(buffer.bytes() <= limit, "seed " + seed + ": " + buffer.bytes() + " bytes buffered");
        }
        assertFalse(store.writeBacks.isEmpty(), "nothing spilled");
    }

    @Test
    void secondChanceSparesAKeyAdmittedSinceEvictionLastLooked() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(3);
        admit(buffer, "a");
        admit(buffer, "b");
        admit(buffer, "c");
        admit(buffer, "a");
        admit(buffer, "d");
        buffer.fit();
        assertEquals(List.of("b"), store.writeBacks, "the oldest key not admitted again leaves first");
        assertNotNull(buffer.get("a"));
    }

    @Test
    void secondChanceIsGivenOnce() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(2);
        admit(buffer, "a");
        admit(buffer, "b");
        admit(buffer, "a");
        admit(buffer, "c");
        buffer.fit();
        assertEquals(List.of("b"), store.writeBacks);
        admit(buffer, "d");
        buffer.fit();
        assertEquals(List.of("b", "c"), store.writeBacks);
        admit(buffer, "e");
        buffer.fit();
        assertEquals(List.of("b", "c", "a"), store.writeBacks, "not admitted since its second chance: it leaves in its turn");
    }

    @Test
    void getIsNotAHit() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(2);
        admit(buffer, "a");
        admit(buffer, "b");
        assertNotNull(buffer.get("a"));
        admit(buffer, "c");
        buffer.fit();
        assertEquals(List.of("a"), store.writeBacks);
    }

    @Test
    void aKeyIsReadOnceWhenItEntersAndWrittenOnceWhenItLeaves() throws Exception {
        KeyState stored = new KeyState();
        stored.setApplied(UpsertValue.of(new byte[] {1}), 1, 0, 1, 1);
        store.stored.put("a", stored);
        KeyStateBuffer buffer = bufferOfKeys(10);
        KeyStateBuffer.Buffered buffered = admit(buffer, "a");
        assertSame(stored, buffered.state, "the stored state is buffered");
        for (int i = 0; i < 5; i++) {
            stash(buffer, admit(buffer, "a"), pending(10 + i, 8));
            buffer.fit();
        }
        assertSame(buffered, buffer.get("a"));
        assertEquals(List.of("a"), store.reads);
        assertEquals(List.of(), store.writeBacks);
        buffer.writeBackAll();
        assertEquals(List.of("a"), store.writeBacks);
        assertEquals(5, store.stored.get("a").stash.size());
        admit(buffer, "b");
        assertEquals(List.of("a", "b"), store.reads, "an absent key is read too");
        assertTrue(buffer.get("b").state.isEmpty(), "and starts empty");
    }

    @Test
    void aWriteBackAsksForATimerOnlyWhenTheKeyHasNone() throws Exception {
        KeyState withTimer = new KeyState();
        withTimer.stash(pending(5, 8));
        store.stored.put("stored", withTimer);
        KeyStateBuffer buffer = bufferOfKeys(10);
        stash(buffer, admit(buffer, "stored"), pending(6, 8));
        stash(buffer, admit(buffer, "fresh"), pending(6, 8));
        admit(buffer, "empty");
        buffer.writeBackAll();
        assertEquals(List.of("stored", "fresh", "empty"), store.writeBacks);
        assertEquals(List.of("fresh"), store.timers, "a key read with stash entries has its timer; an empty one needs none");
    }

    @Test
    void aFiredTimerIsAskedForAgainAtTheWriteBack() throws Exception {
        KeyState withTimer = new KeyState();
        withTimer.stash(pending(5, 8));
        withTimer.stash(pending(6, 8));
        store.stored.put("a", withTimer);
        KeyStateBuffer buffer = bufferOfKeys(10);
        admit(buffer, "a");
        assertNull(buffer.timerFired("b"), "not buffered");
        KeyStateBuffer.Buffered buffered = buffer.timerFired("a");
        buffered.state.stash.remove(0);
        buffer.changed(buffered);
        buffer.writeBackAll();
        assertEquals(List.of("a"), store.timers);
    }

    /**
     * A snapshot used to empty the buffer, so every key a backlog kept touching was read back from
     * the state backend after each checkpoint (with the write-backs, a sixth of the operator's task
     * thread on the 24-hour backlog). It writes back the keys changed since they were last read or
     * written, and keeps every key buffered.
     */
    @Test
    void aSnapshotWritesBackChangedKeysAndKeepsThemBuffered() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(10);
        stash(buffer, admit(buffer, "a"), pending(1, 8));
        stash(buffer, admit(buffer, "b"), pending(2, 8));
        long bytes = buffer.bytes();
        buffer.writeBackAll();
        assertEquals(List.of("a", "b"), store.writeBacks);
        assertEquals(bytes, buffer.bytes(), "every key stays buffered");
        assertNotNull(buffer.get("a"));
        assertNotNull(buffer.get("b"));
        stash(buffer, admit(buffer, "a"), pending(3, 8));
        buffer.writeBackAll();
        assertEquals(List.of("a", "b", "a"), store.writeBacks, "only the key changed since is written again");
        assertEquals(2, store.stored.get("a").stash.size());
        assertEquals(List.of("a", "b"), store.reads, "no key is read back after a snapshot");
        assertEquals(List.of("a", "b"), store.timers, "and each asked for its timer once");
    }

    @Test
    void aKeyUnchangedSinceItWasWrittenBackLeavesWithoutAWrite() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(2);
        stash(buffer, admit(buffer, "a"), pending(1, 8));
        buffer.writeBackAll();
        admit(buffer, "b");
        admit(buffer, "c");
        admit(buffer, "d");
        buffer.fit();
        assertNull(buffer.get("a"), "spilled");
        assertEquals(List.of("a"), store.writeBacks.subList(0, 1));
        assertFalse(store.writeBacks.subList(1, store.writeBacks.size()).contains("a"), "a clean key is not written twice");
        assertEquals(1, store.stored.get("a").stash.size());
    }

    @Test
    void fitWithinTheLimitSpillsNothing() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(3);
        admit(buffer, "a");
        admit(buffer, "b");
        admit(buffer, "c");
        buffer.fit();
        assertEquals(List.of(), store.writeBacks);
        assertEquals(3 * emptyKeyBytes, buffer.bytes());
    }

    @Test
    void aDeletedKeyKeepsItsOrderKeyAndPartitionTimes() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(10);
        KeyStateBuffer.Buffered buffered = admit(buffer, "a");
        buffered.state.noteTime(0, 7);
        buffered.state.setApplied(UpsertValue.of(new byte[100]), 7, 0, 3, 7);
        buffer.changed(buffered);
        assertEquals(emptyKeyBytes + 48 + 100, buffer.bytes(), "the value counts in bytes");
        buffered.state.setApplied(null, 8, 0, 4, 8);
        buffer.changed(buffered);
        assertEquals(8, buffered.state.appliedTime, "an older put must still lose to the delete (FrontierProtocolTest)");
        assertEquals(4, buffered.state.appliedOffset);
        assertEquals(7, buffered.state.lastTimeIn(0));
        assertEquals(emptyKeyBytes, buffer.bytes(), "the deleted value no longer counts");
    }

    @Test
    void forEachStashedVisitsTheKeysWithStashEntriesAndReestimatesThem() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(10);
        stash(buffer, admit(buffer, "a"), pending(1, 100));
        admit(buffer, "b");
        stash(buffer, admit(buffer, "c"), pending(2, 100));
        List<String> visited = new ArrayList<>();
        buffer.forEachStashed(Long.MAX_VALUE, (state, key, keyHash) -> {
            visited.add(new String(key, StandardCharsets.ISO_8859_1));
            assertEquals(Update.keyHash(key), keyHash, "the key's hash comes with it");
            state.stash.clear();
        });
        assertEquals(List.of("a", "c"), visited);
        assertEquals(3 * emptyKeyBytes, buffer.bytes());
    }

    /**
     * A pass visits only keys with an entry below its bound (walking every buffered key at every
     * watermark took a fifth of the task thread on a backlog); a key above it is visited by a later
     * pass, and a spilled key never (its timer drains it).
     */
    @Test
    void aPassVisitsOnlyResidentKeysWithEntriesBelowItsBound() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(10);
        stash(buffer, admit(buffer, "early"), pending(1, 100));
        stash(buffer, admit(buffer, "late"), pending(5, 100));
        List<String> visited = new ArrayList<>();
        KeyStateBuffer.Change drain = (state, key, keyHash) -> {
            visited.add(new String(key, StandardCharsets.ISO_8859_1));
            state.stash.clear();
        };
        buffer.forEachStashed(5, drain);
        assertEquals(List.of("early"), visited);
        buffer.forEachStashed(6, drain);
        assertEquals(List.of("early", "late"), visited);
        stash(buffer, admit(buffer, "spilled"), pending(7, 100));
        for (int k = 0; k < 20; k++) {
            admit(buffer, "k" + k);
        }
        buffer.fit();
        assertNull(buffer.get("spilled"));
        buffer.forEachStashed(Long.MAX_VALUE, drain);
        assertEquals(List.of("early", "late"), visited, "a spilled key is no longer the buffer's");
    }

    /**
     * During a storage stall no pass runs, while keys keep entering and being spilled: the list a
     * pass visits must not keep their states alive (it held 80 MB of spilled 1 KiB commands in
     * StorageStallTest before it was bounded).
     */
    @Test
    void keysSpilledWhileNoPassRunsAreNotKeptInThePassList() throws Exception {
        KeyStateBuffer buffer = bufferOfKeys(4);
        for (int k = 0; k < 1_000; k++) {
            stash(buffer, admit(buffer, "k" + k), pending(k, 100));
            buffer.fit();
            assertTrue(buffer.queuedKeys() <= 2 * 4 + 16 + 1, "queued " + buffer.queuedKeys() + " after " + k);
        }
    }
}
