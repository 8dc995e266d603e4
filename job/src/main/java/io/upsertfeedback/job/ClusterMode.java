package io.upsertfeedback.job;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * {@code run}: the production job against real endpoints, as submitted to a cluster
 * ({@code flink run upsert-feedback-job.jar run -Dkafka.bootstrap-servers=...}). The state
 * backend, checkpointing and restarts come from the cluster's configuration.
 */
final class ClusterMode {
    private ClusterMode() {
    }

    static void run(Configuration conf) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        Pipeline.Built built = Pipeline.build(env, conf, false);
        System.out.println(built.resumedFrom().isEmpty() ? "starting from the configured offsets (kafka.starting-offsets)"
                : "resuming from the store's recorded positions " + built.resumedFrom());
        env.execute("upsert-feedback");
    }
}
