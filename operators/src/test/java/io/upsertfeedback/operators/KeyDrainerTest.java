package io.upsertfeedback.operators;

import io.upsertfeedback.operators.KeyDrainer.DrainStats;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link KeyDrainer}: the output rule (SPEC 3.5) and a pass's rules and counts, without Flink. */
class KeyDrainerTest {
    private static final byte[] KEY = "k".getBytes(StandardCharsets.ISO_8859_1);

    private final List<String> out = new ArrayList<>();
    private long nextOffset;

    /** A pass to {@code bound} from state frontier {@code start}; updates recorded as "value@time:diff". */
    private KeyDrainer pass(long bound, long start) {
        return new KeyDrainer(bound, start, update -> {
            assertArrayEquals(KEY, update.key());
            out.add(new String(update.value().bytes(), StandardCharsets.UTF_8) + "@" + update.time() + ":" + update.diff());
        });
    }

    private static UpsertValue value(String text) {
        return UpsertValue.of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A key holding {@code applied} (or nothing) with commands stashed at the given times and values ({@code null}: delete). */
    private KeyState key(String applied, Object... stash) {
        KeyState state = new KeyState();
        if (applied != null) {
            state.setApplied(value(applied), 0, 0, nextOffset++, 0);
        }
        for (int i = 0; i < stash.length; i += 2) {
            long time = (Long) stash[i];
            UpsertValue value = stash[i + 1] == null ? null : value((String) stash[i + 1]);
            state.stash(new KeyState.Pending(time, time, 0, nextOffset++, value));
        }
        return state;
    }

    private static DrainStats stats(long drained, long applied, long superseded, long retimed, long inserts,
                                    long updates, long deletes, long noopUpdates, long absentDeletes) {
        return new DrainStats(drained, applied, superseded, retimed, inserts, updates, deletes, noopUpdates, absentDeletes);
    }

    @Test
    void outputRuleInsertOfAnAbsentKeyEmitsOnePlus() {
        KeyDrainer pass = pass(10, 0);
        pass.drain(key(null, 1L, "x"), KEY, Update.keyHash(KEY));
        assertEquals(List.of("x@1:1"), out);
        assertEquals(stats(1, 1, 0, 0, 1, 0, 0, 0, 0), pass.stats());
    }

    @Test
    void outputRuleUpdateRetractsThePriorThenInserts() {
        KeyDrainer pass = pass(10, 0);
        KeyState state = key("p", 1L, "x");
        pass.drain(state, KEY, Update.keyHash(KEY));
        assertEquals(List.of("p@1:-1", "x@1:1"), out);
        assertEquals("x", new String(state.value.bytes(), StandardCharsets.UTF_8));
        assertEquals(stats(1, 1, 0, 0, 0, 1, 0, 0, 0), pass.stats());
    }

    @Test
    void outputRuleDeleteRetractsThePrior() {
        KeyDrainer pass = pass(10, 0);
        KeyState state = key("p", 1L, null);
        pass.drain(state, KEY, Update.keyHash(KEY));
        assertEquals(List.of("p@1:-1"), out);
        assertNull(state.value);
        assertFalse(state.isEmpty(), "a deleted key keeps the delete's order key");
        assertEquals(1L, state.appliedTime);
        assertEquals(stats(1, 1, 0, 0, 0, 0, 1, 0, 0), pass.stats());
    }

    @Test
    void outputRuleDeleteOfAnAbsentKeyEmitsNothing() {
        KeyDrainer pass = pass(10, 0);
        pass.drain(key(null, 1L, null), KEY, Update.keyHash(KEY));
        assertEquals(List.of(), out);
        assertEquals(stats(1, 1, 0, 0, 0, 0, 0, 0, 1), pass.stats());
    }

    @Test
    void outputRuleEqualValueEmitsNothing() {
        KeyDrainer pass = pass(10, 0);
        KeyState state = key("p", 1L, "p");
        pass.drain(state, KEY, Update.keyHash(KEY));
        assertEquals(List.of(), out);
        assertEquals(1, state.appliedTime, "the command is still applied: its order key is the key's");
        assertEquals(stats(1, 1, 0, 0, 0, 0, 0, 1, 0), pass.stats());
    }

    @Test
    void drainsOnlyBelowTheBoundInTimeOrderCarryingThePriorForward() {
        KeyDrainer pass = pass(5, 0);
        KeyState state = key(null, 1L, "a", 2L, "b", 3L, null, 4L, "c", 5L, "d", 9L, "e");
        pass.drain(state, KEY, Update.keyHash(KEY));
        assertEquals(List.of("a@1:1", "a@2:-1", "b@2:1", "b@3:-1", "c@4:1"), out);
        assertEquals(List.of(5L, 9L), state.stash.stream().map(KeyState.Pending::time).toList(), "at and above the bound stay");
        assertEquals(stats(4, 4, 0, 0, 2, 1, 1, 0, 0), pass.stats());
    }

    @Test
    void entriesBehindThePassStartAreAppliedAtIt() {
        KeyDrainer pass = pass(10, 4);
        pass.drain(key("p", 2L, "x", 6L, "y"), KEY, Update.keyHash(KEY));
        assertEquals(List.of("p@4:-1", "x@4:1", "x@6:-1", "y@6:1"), out);
        assertEquals(1, pass.stats().retimed());
    }

    @Test
    void entryNotNewerThanTheAppliedValueIsDroppedAsSuperseded() {
        KeyDrainer pass = pass(10, 0);
        KeyState state = key(null, 2L, "stale", 3L, "x");
        // a rehydrated value with a newer order key than the first entry came in after it
        state.setApplied(value("stored"), 2, 1, 0, 2);
        pass.drain(state, KEY, Update.keyHash(KEY));
        assertEquals(List.of("stored@3:-1", "x@3:1"), out);
        assertEquals(stats(2, 1, 1, 0, 0, 1, 0, 0, 0), pass.stats());
    }

    @Test
    void statsAddUpOverTheKeysOfAPass() {
        KeyDrainer pass = pass(3, 0);
        pass.drain(key(null, 1L, "a"), KEY, Update.keyHash(KEY));
        assertEquals(1, pass.drained());
        pass.drain(key("p", 2L, "b", 7L, "c"), KEY, Update.keyHash(KEY));
        pass.drain(key(null), KEY, Update.keyHash(KEY));
        assertEquals(2, pass.drained());
        assertEquals(stats(2, 2, 0, 0, 1, 1, 0, 0, 0), pass.stats());
    }
}
