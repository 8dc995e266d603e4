package io.upsertfeedback.operators;

import io.upsertfeedback.operators.testing.DifferentialScenario;
import io.upsertfeedback.operators.testing.OperatorDriver;
import io.upsertfeedback.operators.testing.OperatorDriver.Backend;
import io.upsertfeedback.operators.testing.SpecModel;
import org.apache.flink.configuration.MemorySize;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Random runs of the operator against the {@link SpecModel} (the failure-free run of the same
 * records, SPEC sections 2 and 3). A run reads records from 2 or 3 partitions with times that
 * follow SPEC 2's rule (a partition's running maximum minus the out-of-orderness bound, so they
 * may go back within a partition), keys that move between partitions, an input frontier that
 * follows the partitions' watermarks, and a persist frontier that follows the output as a sink's
 * would (or a finite or {@code +inf} store the run rehydrates from). One run in three of those that
 * do not rehydrate has its command input go idle now and then ({@code I} jumps past each subtask's
 * latest command); its times then depend on timing, so invariant 6 and the final values are checked
 * there. Along the way: random
 * checkpoints and failures, restored with the same inputs replayed, or replayed in one burst
 * (other watermark and feedback timing than the failed attempt), or resubmitted with the store's
 * newer positions ({@code flink run -s} against a store that moved on). Runs start with 1 to 3
 * subtasks (commands routed by Flink's key-group assignment, frontiers to every subtask) and one
 * failure in three restores at a random parallelism of 1 to 3: with the same options (a rescale
 * within the job) or with the store's positions ({@code flink run -s <savepoint> -p <M>}), the
 * subtasks' snapshots repartitioned as Flink does. One run in three (of those without
 * out-of-orderness) ends in a failure without checkpoint: a second run, at 1 to 3 subtasks, starts
 * from the store the first left (per sink subtask a frontier column at one of its subtask's progress
 * markers, each subtask's values below its column, some partial writes above; or a finished store
 * at {@code P = +inf}) and must end with the values the failure-free
 * run of all records gives (SPEC 3.10). Keys move between partitions in these runs too, except
 * after a finished store, where each key stays on the partition of its highest order key, and in a
 * first run at more than one subtask (a partition one subtask never saw is read again from its
 * start): the known limit of {@link RehydrationKnownLimitTest} (rehydration never learns a deleted
 * key's order key).
 * After every step everything below the output frontier must match the model; at the end,
 * everything. Each batch of at least 100 sequences must have exercised every axis ({@code AXES}).
 *
 * <p>Reproduce a failure with {@code -Dupsert.seed=<seed printed in the failure>}; change the
 * amount with {@code -Dupsert.sequences=<n>} (defaults: 240 on the heap backend, 25 on RocksDB:
 * about 50 s on 2 shared cores; a long run: {@code -Dupsert.sequences=10000}, one backend with
 * {@code -Dupsert.backend=HEAP}).
 */
class RandomizedDifferentialTest {
    private static final String[] VALUES = {"x", "y", "z"};

    @ParameterizedTest
    @EnumSource(Backend.class)
    void randomizedDifferential(Backend backend) throws Exception {
        String only = System.getProperty("upsert.backend");
        Assumptions.assumeTrue(only == null || only.equals(backend.name()), "-Dupsert.backend=" + only);
        Long fixedSeed = Long.getLong("upsert.seed");
        int sequences = fixedSeed != null ? 1 : Integer.getInteger("upsert.sequences", backend == Backend.ROCKSDB ? 25 : 240);
        long baseSeed = fixedSeed != null ? fixedSeed : new Random().nextLong();
        Map<String, Integer> coverage = new TreeMap<>();
        for (int i = 0; i < sequences; i++) {
            long seed = baseSeed + i;
            try {
                new Run(backend, new Random(seed), coverage).run();
                if ((i + 1) % 250 == 0 && sequences >= 1_000) {
                    System.out.printf("%s: %d of %d sequences passed (seeds from %d)%n", backend, i + 1, sequences, baseSeed);
                }
            } catch (Throwable failure) {
                throw new AssertionError("random sequence failed on " + backend + "; reproduce with -Dupsert.seed=" + seed
                        + "\n" + failure.getMessage(), failure);
            }
        }
        System.out.printf("%s: %d sequences passed (seeds from %d), axes covered: %s%n", backend, sequences, baseSeed, coverage);
        if (sequences >= 100) {
            for (String axis : AXES) {
                Assertions.assertTrue(coverage.getOrDefault(axis, 0) > 0, "no sequence exercised " + axis + ": " + coverage);
            }
        }
    }

    /** The axes every batch of sequences must exercise at least once (the test's own coverage check). */
    private static final List<String> AXES = List.of("restore", "restore with burst replay",
            "flink run -s", "rescale within the job", "rescale across jobs", "key moved", "input idle", "rehydration at finite P",
            "rehydration at P = +inf", "rehydration at finite P with a moved key", "rehydration at parallelism > 1",
            "rehydration after a run at parallelism > 1");

    /** One random run (and its rehydrated successor, if any). */
    private static final class Run {
        final Backend backend;
        final Random random;
        final int partitions;
        final int keys;
        final long outOfOrderness;
        /** Ends in a failure without checkpoint and a second run from the store the first left. */
        final boolean rehydrate;
        /** Subtasks the first run starts with. */
        final int parallelism;
        final UpsertOptions options;
        final long[] runningMax;
        final long[] nextOffset;
        final int[] partitionOf;
        /**
         * The command input goes idle now and then ({@link DifferentialScenario#inputIdle}: {@code I} jumps
         * past the latest command, and the partitions behind it are applied at the state frontier): the
         * times then depend on timing, so only invariant 6 and the final values are checked (SPEC 2).
         */
        final boolean idles;
        /** Keys may move to another partition now (see {@link #rehydrateFrom} for when they may not). */
        boolean keysMove;
        final List<UpsertCommand> records = new ArrayList<>();
        long input = Long.MIN_VALUE;
        long persist;

        final Map<String, Integer> coverage;

        Run(Backend backend, Random random, Map<String, Integer> coverage) {
            this.backend = backend;
            this.random = random;
            this.coverage = coverage;
            partitions = 2 + random.nextInt(2);
            outOfOrderness = random.nextInt(3) == 0 ? 2 : 0;
            rehydrate = outOfOrderness == 0 && random.nextInt(3) == 0;
            parallelism = rehydrate ? (random.nextBoolean() ? 1 : 2 + random.nextInt(2)) : 1 + random.nextInt(3);
            // a rehydrating run's partition that one of its subtasks never saw has no resume position and is read
            // again from its start, below P: the known limit again (see RehydrationKnownLimitTest), so keys stay put;
            // and more keys, so that subtasks share partitions and see them at different times
            keysMove = !(rehydrate && parallelism > 1);
            idles = !rehydrate && random.nextInt(3) == 0;
            keys = keysMove ? 1 + random.nextInt(4) : 4 + random.nextInt(6);
            runningMax = new long[partitions];
            nextOffset = new long[partitions];
            for (int p = 0; p < partitions; p++) {
                runningMax[p] = random.nextInt(4);
            }
            partitionOf = new int[keys];
            for (int k = 0; k < keys; k++) {
                partitionOf[k] = k % partitions;
            }
            int leadChoice = random.nextInt(4);
            // half the runs with a buffer small enough to spill keys to the state backend (below ~400 bytes: every command)
            MemorySize bufferSize = random.nextBoolean() ? UpsertOptions.BUFFER_SIZE.defaultValue()
                    : MemorySize.parse(random.nextInt(2_000) + "b");
            options = UpsertOptions.defaults().withTick(Duration.ofMillis(1))
                    .withLead(leadChoice == 3 ? null : Duration.ofMillis(1 + leadChoice)).withBufferSize(bufferSize);
        }

        /** The highest input frontier the partitions' watermarks allow now. */
        long inputBound() {
            long bound = Long.MAX_VALUE;
            for (int p = 0; p < partitions; p++) {
                bound = Math.min(bound, runningMax[p] - outOfOrderness);
            }
            return bound;
        }

        UpsertCommand nextRecord() {
            int k = random.nextInt(keys);
            if (keysMove && random.nextInt(rehydrate ? 4 : 12) == 0) {
                int moved = random.nextInt(partitions); // a new partitioner, more partitions
                if (moved != partitionOf[k]) {
                    covered("key moved");
                }
                partitionOf[k] = moved;
            }
            int p = partitionOf[k];
            long recordTime = Math.max(0, runningMax[p] + random.nextInt(5) - 2);
            long time = Math.max(recordTime, runningMax[p] - outOfOrderness); // SPEC 2: never behind the partition's watermark
            runningMax[p] = Math.max(runningMax[p], recordTime);
            long offset = nextOffset[p]++;
            UpsertCommand record = random.nextInt(5) == 0 ? UpsertCommand.delete(key(k), p, offset, time)
                    : UpsertCommand.put(key(k), randomValue(random), p, offset, time);
            records.add(record);
            return record;
        }

        void run() throws Exception {
            try (DifferentialScenario first = new DifferentialScenario(backend, options, parallelism)) {
                if (idles) {
                    first.timingDependent();
                }
                persist = Frontiers.EMPTY_STORE;
                first.storeFrontier(persist);
                steps(first, 10 + random.nextInt(40), !rehydrate);
                if (!rehydrate) {
                    finish(first);
                    return;
                }
                boolean finished = random.nextBoolean();
                if (finished) {
                    finish(first);
                    persist = Long.MAX_VALUE;
                }
                rehydrateFrom(first);
            }
        }

        /**
         * Random steps on a running scenario; checks it against the model after each. With
         * {@code rescale}, one failure in three restores at a random parallelism of 1 to 3.
         */
        void steps(DifferentialScenario s, int count, boolean rescale) throws Exception {
            DifferentialScenario.Snapshot checkpoint = s.snapshot();
            for (int step = 0; step < count; step++) {
                int choice = random.nextInt(100);
                if (choice < 55) {
                    s.command(nextRecord());
                } else if (idles && choice < 58) {
                    s.inputIdle();
                    covered("input idle");
                } else if (choice < 70) {
                    long bound = inputBound();
                    if (bound > input) {
                        input = input == Long.MIN_VALUE ? bound - random.nextInt(3) : input + 1 + random.nextInt((int) Math.min(4, bound - input));
                        input = Math.min(input, bound);
                        s.inputFrontier(input);
                    }
                } else if (choice < 84) {
                    long output = s.outputFrontier();
                    if (output > persist && output != Long.MAX_VALUE) {
                        persist = persist < 0 ? output : persist + 1 + random.nextInt((int) (output - persist));
                        s.persistFrontier(persist);
                    }
                } else if (choice < 92) {
                    checkpoint = s.snapshot();
                } else {
                    int how = random.nextInt(3);
                    Map<Integer, Long> storePositions = s.storePositions();
                    UpsertOptions resubmitted = how == 2 && storePositions != null
                            ? options.withResumePositions(storePositions) : null;
                    int restoredParallelism = rescale && random.nextInt(3) == 0 ? 1 + random.nextInt(3)
                            : checkpoint.checkpoints().size();
                    s.failAndRestore(checkpoint, resubmitted, how == 1, restoredParallelism);
                    covered(how == 0 ? "restore" : how == 1 ? "restore with burst replay" : "flink run -s");
                    if (restoredParallelism != checkpoint.checkpoints().size()) {
                        covered(how == 2 ? "rescale across jobs" : "rescale within the job");
                    }
                    if (how != 0 && persist > Long.MIN_VALUE) {
                        s.persistFrontier(persist); // the store moved on meanwhile
                    }
                    if (how == 1 && input > Long.MIN_VALUE) {
                        s.inputFrontier(input);
                    }
                }
                s.assertMatchesModel("after step " + step);
                for (OperatorDriver driver : s.drivers()) {
                    driver.operator().bufferedBytes();
                }
            }
        }

        void covered(String axis) {
            coverage.merge(axis, 1, Integer::sum);
        }

        /** Every frontier past everything: the run is complete. */
        void finish(DifferentialScenario s) throws Exception {
            input = Long.MAX_VALUE; // the input ended (a bounded run)
            s.inputFrontier(input);
            // the sink acknowledges what the operator released, the feedback brings it back, until all is out
            for (int round = 0; round < 1_000 && s.outputFrontier() > persist; round++) {
                persist = s.outputFrontier();
                s.persistFrontier(persist);
            }
            s.assertComplete("at the end");
        }

        /**
         * After a finished store ({@code P = +inf}): every key stays, for the rest of the run, on the
         * partition of its highest order key so far. The known limit this leaves out: rehydration
         * streams only live values, not deletion markers (and {@code MarkerCollector} removes them
         * once a checkpoint completes), so a record of an older time from a lagging partition
         * ({@code (6, 1, 8)} after a delete at {@code (8, 0, 9)}, a run that ended) would bring back
         * a key whose delete wins in the failure-free run. See
         * {@code RehydrationKnownLimitTest}. At a finite {@code P} (these runs have no out-of-orderness) no
         * such record exists: every record the next run reads has a time at or above the frontier its
         * positions were released with (the partitions' watermarks had passed it), later than any
         * delete drained before them, so keys move freely there.
         */
        void keepKeysWhereTheyWon() {
            long[][] highest = new long[keys][];
            for (UpsertCommand record : records) {
                int k = Integer.parseInt(UpsertCommand.keyOf(record.key()).substring(1));
                long[] order = {record.time(), record.partition(), record.offset()};
                if (highest[k] == null || java.util.Arrays.compare(order, highest[k]) > 0) {
                    highest[k] = order;
                    partitionOf[k] = record.partition();
                }
            }
            keysMove = false;
        }

        /**
         * The first run dies without a checkpoint; a second starts from what it left in the store.
         * Each sink subtask publishes its own column ({@code PersistFrontier}): at the kill, subtask
         * {@code i}'s column is one of its operator subtask's progress markers at or above the last
         * {@code P} fed back (none: the column as claimed, at that {@code P} with no positions), its
         * updates below that marker are written, and some keys' writes above it too (partial). The
         * store's {@code P} is the lowest column, its positions {@link DifferentialScenario#foldPositions}.
         */
        void rehydrateFrom(DifferentialScenario first) throws Exception {
            long storedFrontier = Long.MAX_VALUE;
            List<Map<Integer, Long>> columns = new ArrayList<>();
            Map<String, Update> stored = new HashMap<>();
            Map<String, Boolean> partial = new HashMap<>();
            for (int subtask = 0; subtask < first.drivers().size(); subtask++) {
                List<Update> output = first.outputOf(subtask);
                List<Update> markers = output.stream().filter(u -> u.isProgress() && u.time() >= persist).toList();
                Update column = markers.isEmpty() ? null : markers.get(random.nextInt(markers.size()));
                long frontier = column == null ? persist : column.time();
                storedFrontier = Math.min(storedFrontier, frontier);
                columns.add(column == null ? Map.of() : column.positions());
                for (Update update : output) {
                    if (update.isProgress()) {
                        continue;
                    }
                    String key = UpsertCommand.keyOf(update.key());
                    if (update.time() < frontier || partial.computeIfAbsent(key, k -> random.nextBoolean())) {
                        if (update.diff() > 0) {
                            stored.put(key, update);
                        } else if (stored.containsKey(key) && stored.get(key).value().equals(update.value())) {
                            stored.remove(key);
                        }
                    }
                }
            }
            persist = storedFrontier;
            Map<Integer, Long> positions = DifferentialScenario.foldPositions(columns);
            if (columns.size() > 1) {
                covered("rehydration after a run at parallelism > 1");
            }
            int secondParallelism = 1 + random.nextInt(3);
            covered(persist == Long.MAX_VALUE ? "rehydration at P = +inf" : "rehydration at finite P");
            if (persist != Long.MAX_VALUE && records.stream().anyMatch(r -> records.stream()
                    .anyMatch(o -> o.flinkKey().equals(r.flinkKey()) && o.partition() != r.partition()))) {
                covered("rehydration at finite P with a moved key");
            }
            if (secondParallelism > 1) {
                covered("rehydration at parallelism > 1");
            }
            try (DifferentialScenario second = new DifferentialScenario(backend, options.withResumePositions(positions),
                    secondParallelism)) {
                for (Update value : stored.values()) {
                    second.prior(UpsertCommand.put(value.key(), value.value(), value.partition(), value.offset(), value.time()));
                }
                second.storeFrontier(persist);
                if (persist == Long.MAX_VALUE) {
                    persist = Frontiers.EMPTY_STORE; // this run's own sink never claims less; the feedback ended
                    keepKeysWhereTheyWon();
                }
                input = Long.MIN_VALUE;
                for (UpsertCommand record : List.copyOf(records)) {
                    Long position = positions.get(record.partition());
                    if (position == null || record.offset() >= position) {
                        second.command(record);
                    }
                }
                steps(second, 10 + random.nextInt(30), true);
                finish(second);
                SpecModel failureFree = new SpecModel(Map.of());
                records.forEach(failureFree::record);
                if (!failureFree.finalValues().equals(second.finalValues())) {
                    throw new AssertionError("after rehydration from P " + storedFrontier + ", positions " + positions + " and "
                            + stored.values() + " the store differs from the failure-free run of " + records + "\n--- expected\n"
                            + failureFree.finalValues() + "\n--- actual\n" + second.finalValues() + "\n--- changelog\n" + second.output());
                }
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
