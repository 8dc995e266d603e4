package io.upsertfeedback.bench.kafka;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one contender process reports to the runner: a single stdout line {@code RESULT k=v k=v ...}
 * (values without spaces). Also samples the process's used heap every 10 ms through JMX from a
 * daemon thread, so {@link #heapPeakBytes()} is the peak heap of the whole run.
 */
public final class Report {
    private static final String PREFIX = "RESULT ";
    private final Map<String, String> fields = new LinkedHashMap<>();
    private volatile long heapPeak;

    /** A report that samples the heap from now on. */
    public static Report sampling() {
        Report report = new Report();
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        Thread sampler = new Thread(() -> {
            while (true) {
                report.heapPeak = Math.max(report.heapPeak, memory.getHeapMemoryUsage().getUsed());
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "heap-sampler");
        sampler.setDaemon(true);
        sampler.start();
        return report;
    }

    public long heapPeakBytes() {
        return heapPeak;
    }

    public Report put(String key, Object value) {
        String s = String.valueOf(value);
        if (s.contains(" ")) {
            throw new IllegalArgumentException("report values have no spaces: " + s);
        }
        fields.put(key, s);
        return this;
    }

    public Map<String, String> fields() {
        return fields;
    }

    /** Prints the result line (with the heap peak) to stdout. */
    public void print() {
        put("heapPeakBytes", heapPeak);
        StringBuilder line = new StringBuilder(PREFIX);
        fields.forEach((k, v) -> line.append(k).append('=').append(v).append(' '));
        System.out.println(line.toString().trim());
        System.out.flush();
    }

    /** The fields of a result line, or {@code null} when {@code line} is not one. */
    public static Map<String, String> parse(String line) {
        if (!line.startsWith(PREFIX)) {
            return null;
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String kv : line.substring(PREFIX.length()).trim().split(" ")) {
            int eq = kv.indexOf('=');
            fields.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return fields;
    }
}
