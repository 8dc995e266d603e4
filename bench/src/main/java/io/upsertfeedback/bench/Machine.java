package io.upsertfeedback.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What the figures were measured on: cores, CPU model, memory, and the load average. */
final class Machine {
    private Machine() {
    }

    static String describe() {
        String cpu = "unknown CPU";
        long memKb = 0;
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(cpu);
            memKb = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        } catch (IOException e) {
            // not Linux: keep the defaults
        }
        return String.format("%d cores, %s, %d GB RAM, Java %s", Runtime.getRuntime().availableProcessors(), cpu,
                memKb >> 20, System.getProperty("java.version"));
    }

    /** The commit of the working directory ({@code git rev-parse HEAD}), and whether it has local changes. */
    static String commit() {
        try {
            String head = git("rev-parse", "HEAD");
            return head.isEmpty() ? "unknown (not a git checkout)" : head + (git("status", "--porcelain").isEmpty() ? " (clean)" : " (with local changes)");
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }

    private static String git(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("git"));
        command.addAll(List.of(args));
        Process git = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return git.waitFor() == 0 ? out : "";
    }

    /** The 1, 5 and 15 minute load averages. */
    static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " / " + f[1] + " / " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    /**
     * Writes the file system's dirty pages out ({@code sync}) and returns how long that took (ms), or
     * -1 when {@code sync} could not run. Called before every contender, so that none pays for the
     * disk writes of the step before it. Loading the topics leaves the kernel writes to flush, and
     * the contender that ran first after the load read its backlog in 25 s where its later runs
     * took 15 to 17 s (2026-12-01, 24-hour backlog). With this call (837 ms after the load, a few
     * ms between contenders) the first run is like the others.
     */
    static long settle() {
        long start = System.nanoTime();
        try {
            return new ProcessBuilder("sync").redirectErrorStream(true).start().waitFor() == 0
                    ? (System.nanoTime() - start) / 1_000_000 : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
