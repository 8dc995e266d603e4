package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import org.apache.flink.configuration.MemorySize;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * Issue test 11: random command sequences over a few keys, with random moves of {@code I} and
 * {@code P} (including {@code P} passing held times, and the feedback input ending), random
 * rehydrations (prior values and resume positions), random checkpoints and random failures
 * restored from the last checkpoint with the inputs since replayed, with the default command buffer
 * or one of 0 to 3 commands (so keys spill to the state backend and drain through timers, also
 * while buffered). After every step the operator must agree with the {@code CollectionOracle}.
 *
 * <p>Reproduce a failure with {@code -Dupsert.seed=<seed printed in the failure>}; change the
 * amount with {@code -Dupsert.sequences=<n>}. Defaults: 1,000 sequences on the heap backend and
 * 150 on RocksDB (each RocksDB harness start, snapshot and restore costs tens of milliseconds),
 * together ~1,150 sequences and ~20,000 commands, about 25 s on 2 idle cores.
 */
class RandomizedDifferentialTest {
    private static final String[] VALUES = {"x", "y", "z"};

    @ParameterizedTest
    @EnumSource(Backend.class)
    void randomizedDifferential(Backend backend) throws Exception {
        Long fixedSeed = Long.getLong("upsert.seed");
        int sequences = fixedSeed != null ? 1 : Integer.getInteger("upsert.sequences", defaultSequences(backend));
        long baseSeed = fixedSeed != null ? fixedSeed : new Random().nextLong();
        for (int i = 0; i < sequences; i++) {
            long seed = baseSeed + i;
            try {
                runSequence(backend, new Random(seed));
            } catch (Throwable failure) {
                throw new AssertionError("random sequence failed on " + backend + "; reproduce with -Dupsert.seed=" + seed
                        + "\n" + failure.getMessage(), failure);
            }
        }
    }

    private static int defaultSequences(Backend backend) {
        return backend == Backend.ROCKSDB ? 150 : 1_000;
    }

    private static void runSequence(Backend backend, Random random) throws Exception {
        long lead = 1 + random.nextInt(3);
        int keys = 1 + random.nextInt(4);
        boolean rehydrate = random.nextInt(3) == 0;
        long[] nextOffset = {random.nextInt(5), random.nextInt(5)};
        Map<Integer, Long> resumePositions = new HashMap<>();
        if (rehydrate) {
            for (int partition = 0; partition < 2; partition++) {
                resumePositions.put(partition, nextOffset[partition] + 3);
            }
        }
        // half the sequences with a buffer small enough to spill keys to the state backend (below ~400 bytes: every command)
        MemorySize bufferSize = random.nextBoolean() ? UpsertOptions.BUFFER_SIZE.defaultValue() : MemorySize.parse(random.nextInt(2_000) + "b");
        UpsertOptions options = UpsertOptions.defaults().withTick(Duration.ofMillis(1)).withLead(Duration.ofMillis(lead))
                .withResumePositions(resumePositions).withBufferSize(bufferSize);
        try (DifferentialScenario s = new DifferentialScenario(backend, options)) {
            long input = 0;
            long persist = 0;
            if (rehydrate) {
                persist = 2 + random.nextInt(4);
                for (int k = 0; k < keys; k++) {
                    if (random.nextBoolean()) {
                        int partition = k % 2;
                        s.prior(UpsertCommand.put(key(k), randomValue(random), partition, nextOffset[partition] + random.nextInt(3),
                                random.nextInt((int) persist)));
                    }
                }
            }
            s.persistFrontier(persist);
            DifferentialScenario.Snapshot checkpoint = s.snapshot();
            int steps = 10 + random.nextInt(40);
            for (int step = 0; step < steps; step++) {
                int choice = random.nextInt(100);
                if (choice < 55) {
                    int k = random.nextInt(keys);
                    int partition = k % 2;
                    long offset = nextOffset[partition]++;
                    long time = Math.max(0, input + random.nextInt(8) - 3);
                    s.command(random.nextInt(5) == 0 ? UpsertCommand.delete(key(k), partition, offset, time)
                            : UpsertCommand.put(key(k), randomValue(random), partition, offset, time));
                } else if (choice < 70) {
                    input += random.nextInt(4);
                    s.inputFrontier(input);
                } else if (choice < 84) {
                    persist += random.nextInt(4);
                    s.persistFrontier(persist);
                } else if (choice < 85 && !rehydrate) {
                    s.endFeedback();
                } else if (choice < 93) {
                    checkpoint = s.snapshot();
                } else {
                    s.failAndRestore(checkpoint);
                }
                s.assertMatchesOracle("after step " + step);
                s.driver().operator().bufferedBytes();
            }
            // P first: what P passes is retimed to P and needs I > P to drain
            long beyondEverything = Math.max(persist, input) + 20;
            s.persistFrontier(beyondEverything);
            s.inputFrontier(beyondEverything + 1);
            s.assertMatchesOracle("at the end");
            if (s.driver().stashEntries() != 0) {
                throw new AssertionError("commands left in the stash with every frontier past them: "
                        + s.driver().stashEntries() + " held, output frontier " + s.driver().outputFrontier() + ", oracle " + s.oracle().outputFrontier() + "/" + s.oracle().pendingCount());
            }
        }
    }

    private static byte[] key(int k) {
        return ("k" + k).getBytes(StandardCharsets.UTF_8);
    }

    private static UpsertValue randomValue(Random random) {
        if (random.nextInt(8) == 0) {
            return UpsertValue.error(new byte[] {(byte) random.nextInt(3)}, "undecodable");
        }
        return UpsertValue.of(VALUES[random.nextInt(VALUES.length)].getBytes(StandardCharsets.UTF_8));
    }
}
