package io.upsertfeedback.bench.kafka;

import io.upsertfeedback.connectors.embedded.EmbeddedKafka;

/**
 * Runs the project's embedded KRaft broker in its own JVM (the benchmark runner's JVM holds the
 * Flink SQL planner's Scala 2.12, the broker needs 2.13). Prints {@code BOOTSTRAP host:port} once
 * ready and stops when its standard input closes (so it dies with the runner).
 */
public final class BrokerMain {
    public static void main(String[] args) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            System.out.println("BOOTSTRAP " + kafka.bootstrapServers());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the runner to close our standard input
            }
        }
    }
}
