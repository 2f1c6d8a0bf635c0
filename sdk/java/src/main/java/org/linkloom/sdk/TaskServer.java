package org.linkloom.sdk;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Task handlers on the JDK's HTTP server (com.sun.net.httpserver).
 *
 * <pre>{@code
 * TaskServer s = TaskServer.create(new InetSocketAddress("127.0.0.1", 8090))
 *         .requireSignature(secret)
 *         .handle("/api/tasks/fetch-data", rq -> TaskResult.success(Map.of("rows", 42)))
 *         .start();
 * }</pre>
 *
 * <p>{@link #handler} mounts one handler on an {@link HttpServer} of your
 * own. Each request's body is read whole (at most 16 MiB), its signature
 * checked when a secret is set (401 otherwise), parsed as an envelope (400
 * otherwise) and handed to the handler; its result is answered 200, or 202
 * for {@link TaskResult#accepted()}. Errors are answered as loom-api
 * answers them: {@code {"error":{"code":...,"message":...}}}.
 */
public final class TaskServer {
    private static final int MAX_BODY = 16 * 1024 * 1024;

    private final HttpServer server;
    private final ExecutorService pool;
    private byte[] secret;

    private TaskServer(HttpServer server) {
        this.server = server;
        this.pool = Executors.newFixedThreadPool(8);
        server.setExecutor(pool);
    }

    /**
     * @param addr where to listen (port 0: the kernel picks one)
     * @return a server, not started
     * @throws IOException when it cannot bind
     */
    public static TaskServer create(InetSocketAddress addr) throws IOException {
        return new TaskServer(HttpServer.create(addr, 64));
    }

    /**
     * Requests must carry a valid X-Loom-Signature under secret, within
     * five minutes; call before {@link #handle}.
     *
     * @param secret the shared secret
     * @return this server
     */
    public TaskServer requireSignature(byte[] secret) {
        this.secret = secret.clone();
        return this;
    }

    /**
     * Requests of POST path go to h.
     *
     * @param path the path, e.g. /api/tasks/fetch-data
     * @param h the handler
     * @return this server
     */
    public TaskServer handle(String path, TaskHandler h) {
        server.createContext(path, handler(h, secret, path));
        return this;
    }

    /** @return this server, listening */
    public TaskServer start() {
        server.start();
        return this;
    }

    /** @return the port it listens on */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Stops listening, waits a second for requests in progress. */
    public void stop() {
        server.stop(1);
        pool.shutdown();
    }

    /**
     * An {@link HttpHandler} for one task, to mount on any HttpServer.
     *
     * @param h the task
     * @param secret the signing secret, or null for unsigned requests
     * @return the handler
     */
    public static HttpHandler handler(TaskHandler h, byte[] secret) {
        return handler(h, secret, null);
    }

    private static HttpHandler handler(TaskHandler h, byte[] secret, String path) {
        byte[] key = secret == null ? null : secret.clone();
        return ex -> {
            try (ex) {
                serve(ex, h, key, path);
            }
        };
    }

    private static void serve(HttpExchange ex, TaskHandler h, byte[] secret, String path)
            throws IOException {
        if (path != null && !ex.getRequestURI().getPath().equals(path)) {
            answer(ex, 404, error("not_found", "no such task"));
            return;
        }
        if (!"POST".equals(ex.getRequestMethod())) {
            ex.getResponseHeaders().set("Allow", "POST");
            answer(ex, 405, error("method_not_allowed", "tasks take POST"));
            return;
        }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(MAX_BODY + 1);
        }
        if (body.length > MAX_BODY) {
            answer(ex, 413, error("too_large", "the body is over 16 MiB"));
            return;
        }
        if (secret != null && !Signature.verify(secret,
                ex.getRequestHeaders().getFirst(Signature.TIMESTAMP_HEADER),
                ex.getRequestHeaders().getFirst(Signature.SIGNATURE_HEADER), body)) {
            answer(ex, 401, error("unauthorized", "missing, wrong or stale X-Loom-Signature"));
            return;
        }
        TaskRequest rq;
        try {
            rq = TaskRequest.parse(body, ex.getRequestHeaders().getFirst("Idempotency-Key"));
        } catch (IllegalArgumentException e) {
            answer(ex, 400, error("bad_request", e.getMessage()));
            return;
        }
        TaskResult r;
        try {
            r = h.handle(rq);
        } catch (TaskException e) {
            r = TaskResult.failed(e.type(), e.getMessage(), null);
        } catch (Exception e) {
            answer(ex, 500, error("internal", String.valueOf(e)));
            return;
        }
        if (r == null) {
            r = TaskResult.success(null);
        }
        answer(ex, r.isAccepted() ? 202 : 200, r.toJson());
    }

    private static String error(String code, String message) {
        return Json.write(Json.object("error", Json.object("code", code, "message", message)));
    }

    private static void answer(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
