package io.upsertfeedback.job;

import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.util.Map;

/**
 * {@code run}: the production job against real endpoints, as submitted to a cluster
 * ({@code flink run upsert-feedback-job.jar run -Dkafka.bootstrap-servers=...}). The state
 * backend, checkpointing and restarts come from the cluster's configuration. Every endpoint is
 * reached first ({@link StartupCheck}): one that cannot be used ends the program with one line
 * naming it, the option, what failed and the fix.
 */
final class ClusterMode {
    private ClusterMode() {
    }

    /**
     * Builds and submits the job. {@code conf} (config.yaml plus {@code overrides}) gives the job's
     * options. Under {@code flink run}, the client has already read config.yaml and applied its
     * own flags ({@code -p}, {@code -s}, {@code -D}, the cluster's address): the execution
     * environment then gets only {@code overrides}, the {@code -D} settings given after
     * {@code run}, so that config.yaml read again does not undo those flags (it did: {@code -p 1}
     * ran at {@code parallelism.default}, and the submission went to config.yaml's
     * {@code rest.port}). Run without the client, the whole {@code conf} applies.
     */
    static void run(Configuration conf, Map<String, String> overrides) throws Exception {
        StartupCheck.run(conf);
        boolean underClient = StreamExecutionEnvironment.getExecutionEnvironment() instanceof StreamContextEnvironment;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(
                underClient ? Configuration.fromMap(overrides) : conf);
        Pipeline.Built built = Pipeline.build(env, conf, false);
        System.out.println(built.resumedFrom().isEmpty() ? "starting from the configured offsets (kafka.starting-offsets)"
                : "resuming from the store's recorded positions " + built.resumedFrom());
        env.execute("upsert-feedback");
    }
}
