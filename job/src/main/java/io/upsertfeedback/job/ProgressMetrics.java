package io.upsertfeedback.job;

import org.apache.flink.api.common.JobID;
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
 * at their final counts, so totals cover the whole run ({@link #sum}); its gauges are dropped.
 *
 * <p>Besides, for each operator subtask the metrics of its latest attempt are kept, with the value
 * they had when that attempt ended ({@link #latestSum}, {@link #latestMin}): for counters restored
 * from checkpoints this is the exact count of the run, failovers included, and a gauge keeps its
 * last value once its task finished (e.g. the output watermark {@link Long#MAX_VALUE} of a bounded
 * source that reached its end).
 *
 * <p>Tests run several jobs in one JVM; a query that takes a {@link JobID} reads that job's metrics only.
 */
public final class ProgressMetrics implements MetricReporter, MetricReporterFactory {
    private static final Map<String, List<Metric>> METRICS = new ConcurrentHashMap<>();
    private static final Map<String, LongAdder> ENDED_COUNTS = new ConcurrentHashMap<>();
    /** By operator and metric name, then by job and subtask ({@link #subtaskOf}). */
    private static final Map<String, Map<String, Latest>> LATEST = new ConcurrentHashMap<>();

    /** The metric of a subtask's latest attempt; {@code ended} holds its value once that attempt ended. */
    private record Latest(String job, int attempt, Metric metric, Long ended) {
        long value() {
            if (ended != null) {
                return ended;
            }
            return valueOf(metric);
        }
    }

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
            int attempt = Integer.parseInt(group.getAllVariables().getOrDefault("<task_attempt_num>", "0"));
            LATEST.computeIfAbsent(operator + "/" + name, k -> new ConcurrentHashMap<>())
                    .merge(subtaskOf(group), new Latest(jobOf(group), attempt, metric, null), (old, now) -> now.attempt >= old.attempt ? now : old);
        }
    }

    private static String jobOf(MetricGroup group) {
        return group.getAllVariables().get("<job_id>");
    }

    /** The job and subtask index of {@code group}: one attempt after another runs each. */
    private static String subtaskOf(MetricGroup group) {
        return jobOf(group) + "#" + group.getAllVariables().getOrDefault("<subtask_index>", "0");
    }

    private static long valueOf(Metric metric) {
        if (metric instanceof Counter c) {
            return c.getCount();
        }
        if (metric instanceof Gauge<?> g && g.getValue() instanceof Number n) {
            return n.longValue();
        }
        return 0;
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        String operator = group.getAllVariables().get("<operator_name>");
        if (operator == null) {
            return;
        }
        if (METRICS.getOrDefault(operator + "/" + name, List.of()).remove(metric) && metric instanceof Counter c) {
            ENDED_COUNTS.computeIfAbsent(operator + "/" + name, k -> new LongAdder()).add(c.getCount());
        }
        Map<String, Latest> latest = LATEST.get(operator + "/" + name);
        if (latest != null) {
            latest.computeIfPresent(subtaskOf(group), (s, l) -> l.metric == metric ? new Latest(l.job, l.attempt, metric, valueOf(metric)) : l);
        }
    }

    /** Sum of a counter over the operator's subtasks, each at its latest attempt (ended or not); 0 if none registered. */
    static long latestSum(String operator, String counter) {
        return LATEST.getOrDefault(operator + "/" + counter, Map.of()).values().stream().mapToLong(Latest::value).sum();
    }

    /** Minimum of a numeric gauge over the operator's subtasks, each at its latest attempt (ended or not). */
    static OptionalLong latestMin(String operator, String gauge) {
        return LATEST.getOrDefault(operator + "/" + gauge, Map.of()).values().stream().mapToLong(Latest::value).min();
    }

    /**
     * Maximum of a numeric gauge over {@code job}'s operator subtasks, each at its latest attempt
     * (ended or not); e.g. the one subtask of a source that holds its only split.
     */
    static OptionalLong latestMax(JobID job, String operator, String gauge) {
        return LATEST.getOrDefault(operator + "/" + gauge, Map.of()).values().stream()
                .filter(l -> job.toString().equals(l.job)).mapToLong(Latest::value).max();
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
