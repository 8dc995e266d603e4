package io.upsertfeedback.bench.kafka;

import com.sun.management.GarbageCollectionNotificationInfo;

import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What one contender process reports to the runner: a single stdout line {@code RESULT k=v k=v ...}
 * (values without spaces). Also samples the process's used heap every 10 ms through JMX from a
 * daemon thread ({@code heapPeakBytes}: the peak heap of the whole run, garbage included), and
 * listens to every garbage collection for the heap left after it ({@code heapAfterGcPeakBytes}:
 * the peak live heap, what must stay flat when state lives off-heap).
 *
 * <p>A young collection leaves old garbage in place, so the heap after "any" collection can grow
 * with the run's length while nothing live grows. {@link #sampleRetainedHeap} measures what is live
 * instead: a full collection ({@code System.gc()}) at a fixed interval, and the heap right after it
 * ({@code retainedHeapPeakBytes}). It costs the pauses, so only the memory sweep uses it.
 */
public final class Report {
    private static final String PREFIX = "RESULT ";
    private static final Set<String> HEAP_POOLS = ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(pool -> pool.getType() == MemoryType.HEAP).map(MemoryPoolMXBean::getName).collect(Collectors.toSet());
    private final Map<String, String> fields = new LinkedHashMap<>();
    private volatile long heapPeak;
    private volatile long heapAfterGcPeak;
    private volatile long retainedHeapPeak = -1;

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
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
                    long after = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData())
                            .getGcInfo().getMemoryUsageAfterGc().entrySet().stream()
                            .filter(e -> HEAP_POOLS.contains(e.getKey()))
                            .mapToLong(e -> e.getValue().getUsed()).sum();
                    report.heapAfterGcPeak = Math.max(report.heapAfterGcPeak, after);
                }
            }, null, null);
        }
        return report;
    }

    /** From now on, a full collection every {@code intervalMillis} and the heap left after it. */
    public Report sampleRetainedHeap(long intervalMillis) {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        retainedHeapPeak = 0;
        Thread sampler = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(intervalMillis);
                } catch (InterruptedException e) {
                    return;
                }
                memory.gc();
                retainedHeapPeak = Math.max(retainedHeapPeak, memory.getHeapMemoryUsage().getUsed());
            }
        }, "retained-heap-sampler");
        sampler.setDaemon(true);
        sampler.start();
        return this;
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
        put("heapAfterGcPeakBytes", heapAfterGcPeak);
        if (retainedHeapPeak >= 0) {
            put("retainedHeapPeakBytes", retainedHeapPeak);
        }
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
