package io.upsertfeedback.job;

import io.upsertfeedback.connectors.sink.TieredStoreSink;
import io.upsertfeedback.operators.UpsertOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Options of the job's graph that contradict each other fail before anything connects. */
class PipelineTest {
    /**
     * With a bounded {@code upsert.lead} every tick waits for the store, so a sink holding keys
     * while catching up would stall the job: an explicit {@code sink.catch-up.max-hold} is refused,
     * naming both options and the fix.
     */
    @Test
    void aStrictLeadRefusesACatchUpHold() {
        Configuration conf = new Configuration();
        conf.set(UpsertOptions.LEAD, Duration.ofSeconds(1));
        conf.set(TieredStoreSink.CATCH_UP_MAX_HOLD, Duration.ofSeconds(30));
        IllegalConfigurationException e = assertThrows(IllegalConfigurationException.class,
                () -> Pipeline.build(StreamExecutionEnvironment.getExecutionEnvironment(), conf, true));
        assertTrue(e.getMessage().startsWith("Option 'sink.catch-up.max-hold' is 30 s but 'upsert.lead' is set"), e.getMessage());
        assertTrue(e.getMessage().contains("Remove 'sink.catch-up.max-hold'"), e.getMessage());
    }
}
