package io.upsertfeedback.connectors.feedback;

import io.upsertfeedback.connectors.store.FrontierState;
import io.upsertfeedback.connectors.store.PersistFrontier;
import io.upsertfeedback.connectors.store.Stores;
import io.upsertfeedback.operators.UpsertCommand;
import io.upsertfeedback.operators.serialization.UpsertCommandSerializer;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.IOException;
import java.time.Duration;

/**
 * The operator's feedback input (FLIP-27 source): rehydrates prior values from the store, then
 * carries the store's persist frontier {@code P} as watermark {@code P - 1}
 * (see {@link FeedbackSourceReader}). One split, so the source effectively runs on one subtask;
 * key its output by {@link UpsertCommand#flinkKey()} into the operator.
 *
 * <pre>{@code
 * FrontierState start = FeedbackSource.readFrontier(storeConfig);   // P and positions: start Kafka there
 * DataStream<UpsertCommand> feedback = env.fromSource(FeedbackSource.builder().setStoreConfig(storeConfig).build(),
 *         WatermarkStrategy.noWatermarks(), "feedback");
 * }</pre>
 */
public final class FeedbackSource implements Source<UpsertCommand, FeedbackSplit, FeedbackSplit>, ResultTypeQueryable<UpsertCommand> {
    private static final long serialVersionUID = 1L;

    public static final ConfigOption<Duration> POLL_INTERVAL = ConfigOptions.key("feedback.poll-interval")
            .durationType().defaultValue(Duration.ofMillis(200))
            .withDescription("How often the feedback source re-reads the store's frontier row to advance its watermark P - 1.");

    private final Configuration storeConfig;

    private FeedbackSource(Configuration storeConfig) {
        this.storeConfig = storeConfig;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Reads the store's frontier {@code P} and resume positions (at job-build time, to start the source there). */
    public static FrontierState readFrontier(Configuration storeConfig) throws IOException {
        try (PersistFrontier frontier = Stores.openFrontier(storeConfig)) {
            return frontier.read();
        }
    }

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<UpsertCommand, FeedbackSplit> createReader(SourceReaderContext context) {
        return new FeedbackSourceReader(storeConfig, storeConfig.get(POLL_INTERVAL), context);
    }

    @Override
    public SplitEnumerator<FeedbackSplit, FeedbackSplit> createEnumerator(SplitEnumeratorContext<FeedbackSplit> context) {
        return new FeedbackEnumerator(context, FeedbackSplit.fresh());
    }

    @Override
    public SplitEnumerator<FeedbackSplit, FeedbackSplit> restoreEnumerator(SplitEnumeratorContext<FeedbackSplit> context,
                                                                           FeedbackSplit checkpoint) {
        return new FeedbackEnumerator(context, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<FeedbackSplit> getSplitSerializer() {
        return FeedbackSplit.Serializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<FeedbackSplit> getEnumeratorCheckpointSerializer() {
        return FeedbackSplit.Serializer.INSTANCE;
    }

    @Override
    public TypeInformation<UpsertCommand> getProducedType() {
        return UpsertCommandSerializer.TYPE_INFO;
    }

    /** Builder of {@link FeedbackSource}. */
    public static final class Builder {
        private final Configuration config = new Configuration();

        private Builder() {}

        /** Store options ({@code store.*}) and {@code feedback.poll-interval}. */
        public Builder setStoreConfig(Configuration storeConfig) {
            config.addAll(storeConfig);
            return this;
        }

        public Builder setPollInterval(Duration interval) {
            config.set(POLL_INTERVAL, interval);
            return this;
        }

        public FeedbackSource build() {
            if (config.getOptional(POLL_INTERVAL).map(Duration::isNegative).orElse(false)) {
                throw new IllegalArgumentException("feedback.poll-interval must not be negative");
            }
            return new FeedbackSource(config.clone());
        }
    }
}
