package io.upsertfeedback.job;

import io.upsertfeedback.connectors.kafka.KafkaIngestOptions;
import io.upsertfeedback.connectors.store.StoreHandle;
import io.upsertfeedback.connectors.store.StoreOptions;
import io.upsertfeedback.connectors.store.Stores;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

import java.net.ConnectException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reaches every endpoint of {@code run} before the job is built, so that an unreachable one ends
 * the program with one first line that names the endpoint, the option that set it, what failed
 * (connection refused or timed out, not found, permission denied) and the fix, instead of a client
 * library's exception chain ({@link Failure}; the chain follows it). Endpoints (host:port lists,
 * project/instance, paths) are named; no other option value is printed, so client properties such
 * as passwords stay out of the output.
 */
final class StartupCheck {
    /** How long each endpoint may take to answer. */
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** An endpoint that cannot be used; the message is the one line to print first. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private StartupCheck() {
    }

    /** The store (Bigtable and the long-term tier: its frontier row is read), then the Kafka brokers and topic. */
    static void run(Configuration conf) {
        store(conf);
        kafka(conf);
    }

    private static void store(Configuration conf) {
        String emulator = conf.getOptional(StoreOptions.BIGTABLE_EMULATOR_HOST).orElse(null);
        String endpoint = emulator != null ? "the Bigtable emulator at " + emulator + " (option '" + StoreOptions.BIGTABLE_EMULATOR_HOST.key() + "')"
                : "Bigtable instance " + conf.getOptional(StoreOptions.BIGTABLE_PROJECT).orElse("?") + "/"
                + conf.getOptional(StoreOptions.BIGTABLE_INSTANCE).orElse("?") + " (options '" + StoreOptions.BIGTABLE_PROJECT.key()
                + "', '" + StoreOptions.BIGTABLE_INSTANCE.key() + "')";
        String longTerm = conf.getOptional(StoreOptions.LONG_TERM_PATH).map(p -> "; long-term tier " + p + " (option '"
                + StoreOptions.LONG_TERM_PATH.key() + "')").orElse("");
        try (StoreHandle store = Stores.open(conf, "startup-check")) {
            store.frontier().read();
        } catch (IllegalArgumentException e) {
            throw e; // a missing or wrong option: the store's message names it
        } catch (Exception e) {
            throw new Failure("cannot open the store: " + endpoint + longTerm + ": " + what(e) + ". Fix: " + fix(e,
                    "check that the endpoint is up and reachable from here, or correct the option"), e);
        }
    }

    /**
     * The Kafka brokers of {@code kafka.bootstrap-servers} answer and hold {@code kafka.topic}
     * (also what {@code produce} checks before it sends anything).
     *
     * @throws Failure naming the endpoint, what failed and the fix
     */
    static void kafka(Configuration conf) {
        String servers = conf.getOptional(KafkaIngestOptions.BOOTSTRAP_SERVERS).orElse(null);
        if (servers == null) {
            throw KafkaIngestOptions.invalid(KafkaIngestOptions.BOOTSTRAP_SERVERS, "is missing", "set it to the host:port list of your Kafka brokers");
        }
        String topic = conf.get(KafkaIngestOptions.TOPIC);
        Properties p = KafkaIngestOptions.clientProperties(conf);
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT.toMillis()));
        p.setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT.toMillis()));
        String endpoint = "the Kafka brokers at " + servers + " (option '" + KafkaIngestOptions.BOOTSTRAP_SERVERS.key() + "')";
        try (Admin admin = Admin.create(p)) {
            admin.describeTopics(List.of(topic)).allTopicNames().get(TIMEOUT.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new Failure("the topic '" + topic + "' (option '" + KafkaIngestOptions.TOPIC.key() + "') does not exist on "
                        + endpoint + ". Fix: create it (an upsert topic: cleanup.policy=compact), or correct the option", e.getCause());
            }
            throw new Failure("cannot reach " + endpoint + ": " + what(e.getCause()) + ". Fix: " + fix(e.getCause(),
                    "check the host:port list and that the brokers are up and reachable from here; security settings go under '"
                            + KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX + "'"), e.getCause());
        } catch (TimeoutException e) {
            throw new Failure("cannot reach " + endpoint + ": no answer within " + TIMEOUT.toSeconds() + " s. Fix: check the "
                    + "host:port list and that the brokers are up and reachable from here", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (RuntimeException e) {
            throw new Failure("cannot connect to " + endpoint + ": " + what(e) + ". Fix: check the Kafka client properties under '"
                    + KafkaIngestOptions.KAFKA_PROPERTIES_PREFIX + "'", e);
        }
    }

    /** What failed, from the exception chain: connection refused, timed out, not found, permission denied, else the root cause's class. */
    static String what(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage()).toUpperCase(Locale.ROOT);
            if (t instanceof ConnectException || m.contains("CONNECTION REFUSED")) {
                return "connection refused";
            }
            if (t instanceof AuthenticationException || m.startsWith("UNAUTHENTICATED")) {
                return "authentication failed";
            }
            if (t instanceof AuthorizationException || m.startsWith("PERMISSION_DENIED")) {
                return "permission denied";
            }
            if (m.startsWith("NOT_FOUND")) {
                return "not found";
            }
            if (t instanceof TimeoutException || t instanceof org.apache.kafka.common.errors.TimeoutException
                    || m.startsWith("DEADLINE_EXCEEDED")) {
                return "timed out";
            }
            if (m.startsWith("UNAVAILABLE")) {
                return "unavailable (not reachable)";
            }
        }
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName();
    }

    private static String fix(Throwable e, String otherwise) {
        return switch (what(e)) {
            case "authentication failed", "permission denied" -> "give this program credentials that may read and write there";
            case "not found" -> "create it, or correct the option";
            default -> otherwise;
        };
    }
}
