package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The task server over real HTTP, with signed and unsigned requests. */
class TaskServerTest {
    private static final byte[] SECRET = "k3y".getBytes(StandardCharsets.UTF_8);
    private static final String ENV = "{\"executionId\":\"e\",\"taskId\":\"t\"}";
    private static TaskServer server;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        server = TaskServer.create(new InetSocketAddress("127.0.0.1", 0)).requireSignature(SECRET)
                .handle("/tasks/echo", rq -> TaskResult.success(
                        Map.of("task", rq.taskId(), "key", rq.idempotencyKey()), "echoed"))
                .handle("/tasks/later", rq -> TaskResult.accepted())
                .handle("/tasks/invalid", rq -> {
                    throw new TaskException("ValidationException", "no");
                })
                .handle("/tasks/broken", rq -> {
                    throw new IllegalStateException("bug");
                })
                .start();
    }

    @AfterAll
    static void stop() {
        server.stop();
    }

    private HttpResponse<String> post(String path, String body, byte[] secret, long ts)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + path))
                .header("Idempotency-Key", "e/t/1")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (secret != null) {
            b.header("X-Loom-Timestamp", String.valueOf(ts)).header("X-Loom-Signature",
                    Signature.sign(secret, String.valueOf(ts), body.getBytes(StandardCharsets.UTF_8)));
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    @Test
    void signedRequestsAreServed() throws Exception {
        HttpResponse<String> r = post("/tasks/echo", ENV, SECRET, now());
        assertEquals(200, r.statusCode());
        Map<String, Object> m = Json.parseObject(r.body());
        assertEquals("SUCCESS", m.get("status"));
        assertEquals(Map.of("task", "t", "key", "e/t/1"), m.get("output"));
    }

    @Test
    void othersAre401() throws Exception {
        assertEquals(401, post("/tasks/echo", ENV, null, 0).statusCode());
        assertEquals(401, post("/tasks/echo", ENV, "wrong".getBytes(StandardCharsets.UTF_8), now())
                .statusCode());
        HttpResponse<String> r = post("/tasks/echo", ENV, SECRET, now() - 600);
        assertEquals(401, r.statusCode());
        assertEquals("unauthorized", LoomException.fromResponse(401, r.body()).code());
    }

    @Test
    void answers() throws Exception {
        assertEquals(400, post("/tasks/echo", "{\"nope\":1}", SECRET, now()).statusCode());
        assertEquals(202, post("/tasks/later", ENV, SECRET, now()).statusCode());
        HttpResponse<String> r = post("/tasks/invalid", ENV, SECRET, now());
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"FAILED\",\"error\":{\"type\":\"ValidationException\","
                + "\"message\":\"no\"}}", r.body());
        assertEquals(500, post("/tasks/broken", ENV, SECRET, now()).statusCode());
        assertEquals(404, post("/tasks/echo/more", ENV, SECRET, now()).statusCode());
    }

    @Test
    void aRefusedCallbackCarriesTheApiError() {
        LoomException e = assertThrows(LoomException.class, () -> Callback.complete(
                "http://127.0.0.1:" + server.port() + "/tasks/echo/x", TaskResult.success(null)));
        assertEquals(404, e.status());
        assertEquals("not_found", e.code());
    }
}
