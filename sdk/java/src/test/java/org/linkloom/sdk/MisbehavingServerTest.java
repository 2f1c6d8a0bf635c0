package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A server that ignores ?wait and hands out the same cursor again: the
 * client gives up instead of spinning or paging for ever.
 */
class MisbehavingServerTest {
    private static HttpServer server;
    private static LoomClient client;

    @BeforeAll
    static void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.createContext("/api/v1/executions", ex -> {
            String body = ex.getRequestURI().getPath().equals("/api/v1/executions")
                    ? "{\"executions\":[{\"id\":\"exec-1\"}],\"nextCursor\":\"c1\"}"
                    : "{\"id\":\"exec-1\",\"status\":\"RUNNING\",\"tasks\":[]}";
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        });
        server.start();
        client = LoomClient.builder("http://127.0.0.1:" + server.getAddress().getPort()).build();
    }

    @AfterAll
    static void stop() {
        server.stop(0);
    }

    @Test
    void waitGivesUpOnAServerThatDoesNotHold() {
        LoomException e = assertThrows(LoomException.class,
                () -> client.waitFor("exec-1", Duration.ofMinutes(10)));
        assertTrue(e.getMessage().contains("?wait"), e.getMessage());
    }

    @Test
    void aShortWaitReturnsTheRunAsItIs() {
        assertEquals("RUNNING", client.waitFor("exec-1", Duration.ZERO).status());
    }

    @Test
    void theSameCursorTwiceStopsPaging() {
        LoomException e = assertThrows(LoomException.class,
                () -> LoomClient.toList(client.executions(Map.of("limit", "1"))));
        assertTrue(e.getMessage().contains("same page"), e.getMessage());
    }
}
