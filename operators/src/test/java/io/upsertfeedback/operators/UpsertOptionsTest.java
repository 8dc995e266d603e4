package io.upsertfeedback.operators;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UpsertOptionsTest {
    @Test
    void defaultsAreOneSecondTickAndUnboundedLead() {
        UpsertOptions options = UpsertOptions.fromConfiguration(new Configuration());
        assertEquals(Duration.ofSeconds(1), options.tick());
        assertTrue(options.lead().isEmpty());
        assertEquals(Long.MAX_VALUE, options.leadMillis());
        assertEquals(Map.of(), options.resumePositions());
    }

    @Test
    void leadIsUnboundedUnlessSet() {
        Configuration config = new Configuration();
        config.set(UpsertOptions.TICK, Duration.ofMillis(100));
        assertEquals(Long.MAX_VALUE, UpsertOptions.fromConfiguration(config).leadMillis());
        config.set(UpsertOptions.LEAD, Duration.ofSeconds(5));
        assertEquals(5_000, UpsertOptions.fromConfiguration(config).leadMillis());
    }

    @Test
    void stateTtlIsRefusedWithTheFix() {
        Configuration config = new Configuration();
        config.set(UpsertOptions.STATE_TTL, Duration.ofHours(1));
        IllegalConfigurationException e = assertThrows(IllegalConfigurationException.class,
                () -> UpsertOptions.fromConfiguration(config));
        assertTrue(e.getMessage().contains("upsert.state.ttl") && e.getMessage().contains("Remove"), e.getMessage());

        Configuration sql = new Configuration();
        sql.setString("table.exec.state.ttl", "1 h");
        e = assertThrows(IllegalConfigurationException.class, () -> UpsertOptions.fromConfiguration(sql));
        assertTrue(e.getMessage().contains("table.exec.state.ttl"), e.getMessage());
    }

    @Test
    void nonPositiveLeadOrTickIsRefusedWithTheFix() {
        Configuration config = new Configuration();
        config.set(UpsertOptions.LEAD, Duration.ZERO);
        IllegalConfigurationException e = assertThrows(IllegalConfigurationException.class,
                () -> UpsertOptions.fromConfiguration(config));
        assertTrue(e.getMessage().startsWith("Option 'upsert.lead' is 0 ms, but it must be at least 1 ms"), e.getMessage());
        assertThrows(IllegalConfigurationException.class, () -> UpsertOptions.defaults().withTick(Duration.ofNanos(10)));
    }

    @Test
    void bufferSizeIsReadAndAnUnreadableOneNamesTheOption() {
        assertEquals(MemorySize.ofMebiBytes(64), UpsertOptions.defaults().bufferSize());
        Configuration config = new Configuration();
        config.set(UpsertOptions.BUFFER_SIZE, MemorySize.ZERO);
        assertEquals(MemorySize.ZERO, UpsertOptions.fromConfiguration(config).bufferSize());
        config.setString(UpsertOptions.BUFFER_SIZE.key(), "lots");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UpsertOptions.fromConfiguration(config));
        assertTrue(e.getMessage().contains("upsert.buffer.size"), e.getMessage());
        assertEquals(MemorySize.parse("7kb"),
                UpsertOptions.defaults().withLead(Duration.ofSeconds(2)).withBufferSize(MemorySize.parse("7kb")).bufferSize());
    }

    @Test
    void resumePositionsAreCopied() {
        HashMap<Integer, Long> positions = new HashMap<>(Map.of(0, 7L));
        UpsertOptions options = UpsertOptions.defaults().withResumePositions(positions);
        positions.put(1, 3L);
        assertEquals(Map.of(0, 7L), options.resumePositions());
    }
}
