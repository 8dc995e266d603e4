package io.upsertfeedback.cluster;

import com.sun.net.httpserver.HttpServer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SessionCluster}'s REST polling against a stand-in for a JobManager's REST endpoint (the
 * JDK's HTTP server answering as Flink's does), for the answers a starting JobManager gives.
 */
class SessionClusterRestTest {
    private static final Path CONF_DIR = Path.of("").toAbsolutePath().getParent().resolve("flink-conf");

    /**
     * Pins a failed build: the JobManager's REST endpoint answered {@code /overview} with HTTP 503
     * ("ongoing leader election") right after it came up, and the start-up wait gave up on it.
     */
    @Test
    void aJobManagerStillElectingItsLeaderIsWaitedFor(@TempDir Path logs) throws IOException {
        AtomicInteger calls = new AtomicInteger();
        HttpServer server = answering(() -> calls.incrementAndGet() <= 2
                ? new Answer(503, "{\"errors\":[\"Service temporarily unavailable due to an ongoing leader election. Please refresh.\"]}")
                : new Answer(200, "{\"taskmanagers\":0}"));
        try (SessionCluster cluster = new SessionCluster("", CONF_DIR, logs, Map.of("rest.port", String.valueOf(server.getAddress().getPort())))) {
            JsonNode overview = cluster.awaitRest("/overview", o -> true, Duration.ofSeconds(30));
            assertEquals(0, overview.path("taskmanagers").asInt());
            assertEquals(3, calls.get());
        } finally {
            server.stop(0);
        }
    }

    /** Any other error status is an answer, not a wait: the wait fails at once, naming it. */
    @Test
    void anyOtherErrorStatusFailsTheWaitNamingIt(@TempDir Path logs) throws IOException {
        HttpServer server = answering(() -> new Answer(500, "{\"errors\":[\"boom\"]}"));
        try (SessionCluster cluster = new SessionCluster("", CONF_DIR, logs, Map.of("rest.port", String.valueOf(server.getAddress().getPort())))) {
            IOException e = assertThrows(IOException.class, () -> cluster.awaitRest("/overview", o -> true, Duration.ofMinutes(5)));
            assertTrue(e.getMessage().contains("HTTP 500"), e.getMessage());
        } finally {
            server.stop(0);
        }
    }

    private record Answer(int status, String body) {
    }

    private static HttpServer answering(Supplier<Answer> answers) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(0), 0);
        server.createContext("/", exchange -> {
            Answer a = answers.get();
            byte[] body = a.body().getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(a.status(), body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        return server;
    }
}
