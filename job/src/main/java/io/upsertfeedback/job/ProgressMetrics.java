package io.upsertfeedback.job;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

/**
 * An in-process Flink metric reporter for {@code local} mode: it keeps a reference to every
 * operator metric of the job (by operator name and metric name, one per subtask) so the progress
 * line can read counters and watermark gauges live, without the REST API. Registered through
 * {@code metrics.reporter.progress.factory.class}; it only works where the job runs in the same JVM
 * (a MiniCluster).
 *
 * <p>When a task ends (a bounded source finishes, or a failover replaces it), its counters are kept
 * at their final counts, so totals cover the whole run; its gauges are dropped.
 */
public final class ProgressMetrics implements MetricReporter, MetricReporterFactory {
    private static final Map<String, List<Metric>> METRICS = new ConcurrentHashMap<>();
    private static final Map<String, LongAdder> ENDED_COUNTS = new ConcurrentHashMap<>();

    /** The configuration that installs this reporter. */
    static Map<String, String> reporterConfig() {
        return Map.of("metrics.reporter.progress.factory.class", ProgressMetrics.class.getName(),
                "metrics.reporter.progress.interval", "1 s");
    }

    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        return this;
    }

    @Override
    public void open(MetricConfig config) {
    }

    @Override
    public void close() {
    }

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
        String operator = group.getAllVariables().get("<operator_name>");
        if (operator != null) {
            METRICS.computeIfAbsent(operator + "/" + name, k -> new CopyOnWriteArrayList<>()).add(metric);
        }
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        String operator = group.getAllVariables().get("<operator_name>");
        if (operator != null && METRICS.getOrDefault(operator + "/" + name, List.of()).remove(metric) && metric instanceof Counter c) {
            ENDED_COUNTS.computeIfAbsent(operator + "/" + name, k -> new LongAdder()).add(c.getCount());
        }
    }

    /** Sum of a counter over the operator's subtasks, ended ones included. */
    static long sum(String operator, String counter) {
        LongAdder ended = ENDED_COUNTS.get(operator + "/" + counter);
        long sum = ended == null ? 0 : ended.sum();
        for (Metric m : METRICS.getOrDefault(operator + "/" + counter, List.of())) {
            if (m instanceof Counter c) {
                sum += c.getCount();
            }
        }
        return sum;
    }

    /** Minimum of a numeric gauge over the operator's running subtasks; empty when none is running. */
    static OptionalLong min(String operator, String gauge) {
        long min = Long.MAX_VALUE;
        boolean any = false;
        for (Metric m : METRICS.getOrDefault(operator + "/" + gauge, List.of())) {
            if (m instanceof Gauge<?> g && g.getValue() instanceof Number n) {
                min = Math.min(min, n.longValue());
                any = true;
            }
        }
        return any ? OptionalLong.of(min) : OptionalLong.empty();
    }
}
