package io.upsertfeedback.connectors.sink;

import org.apache.flink.api.common.operators.ProcessingTimeService;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ScheduledFuture;

/**
 * A processing-time service whose clock moves only when a test advances it: {@link #advanceTo}
 * runs the timers due on the calling thread (the task thread, as Flink's mailbox would), in time
 * order. Timers registered meanwhile for a time already reached run too.
 */
final class ManualTimers implements ProcessingTimeService {
    private record Timer(long time, ProcessingTimeCallback callback) {}

    private final List<Timer> timers = new ArrayList<>();
    private long now;

    /** @param now the clock's start (ms) */
    ManualTimers(long now) {
        this.now = now;
    }

    @Override
    public long getCurrentProcessingTime() {
        return now;
    }

    /** @return {@code null}: nothing here cancels a timer */
    @Override
    public ScheduledFuture<?> registerTimer(long timestamp, ProcessingTimeCallback callback) {
        timers.add(new Timer(timestamp, callback));
        return null;
    }

    /** Moves the clock to {@code time} (ms), running every timer due by then at its own time. */
    void advanceTo(long time) throws Exception {
        while (true) {
            Timer next = timers.stream().filter(t -> t.time() <= time).min(Comparator.comparingLong(Timer::time)).orElse(null);
            if (next == null) {
                break;
            }
            timers.remove(next);
            now = Math.max(now, next.time());
            next.callback().onProcessingTime(now);
        }
        now = time;
    }
}
