package io.upsertfeedback.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the JMH microbenchmarks of {@code io.upsertfeedback.bench.jmh} in a child JVM (short settings) and reads their scores. */
final class Jmh {
    record Score(String name, double score, double error, String unit) {
    }

    private Jmh() {
    }

    static List<Score> run(String classpath, Path logs) throws Exception {
        Path csv = logs.resolve("jmh.csv");
        List<String> args = List.of("-f", "1", "-wi", "3", "-w", "2s", "-i", "5", "-r", "2s", "-foe", "true",
                "-rf", "csv", "-rff", csv.toString(), "io\\.upsertfeedback\\.bench\\.jmh\\..*");
        List<String> command = ChildProcess.java(classpath, "1g", List.of(), "org.openjdk.jmh.Main", args);
        Process process = new ProcessBuilder(command).redirectOutput(logs.resolve("jmh.out").toFile())
                .redirectErrorStream(true).start();
        if (process.waitFor() != 0) {
            throw new IllegalStateException("JMH failed; see " + logs.resolve("jmh.out"));
        }
        List<Score> scores = new ArrayList<>();
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        for (String line : lines.subList(1, lines.size())) {
            // "Benchmark","Mode","Threads","Samples","Score","Score Error (99.9%)","Unit"[,"Param: ..."]
            String[] f = line.replace("\"", "").split(",");
            String name = f[0].substring(f[0].lastIndexOf('.', f[0].lastIndexOf('.') - 1) + 1);
            for (int i = 7; i < f.length; i++) {
                name += " " + f[i];
            }
            scores.add(new Score(name, Double.parseDouble(f[4]), f[5].equals("NaN") ? 0 : Double.parseDouble(f[5]), f[6]));
        }
        return scores;
    }
}
