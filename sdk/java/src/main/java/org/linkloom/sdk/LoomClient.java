package org.linkloom.sdk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A client of loom-api(8), Link Loom's REST API.
 *
 * <pre>{@code
 * LoomClient loom = LoomClient.builder("http://127.0.0.1:8080")
 *         .token(System.getenv("LOOM_TOKEN")).build();
 * loom.applyWorkflow(Path.of("daily-report.yaml"));
 * String id = loom.trigger("daily-report", Map.of("limit", 5));
 * Execution run = loom.waitFor(id, Duration.ofMinutes(2));
 * }</pre>
 *
 * <p>Every failed call throws {@link LoomException} with the HTTP status and
 * the API's error code and message. A client is safe to share between
 * threads; it keeps its connections alive.
 *
 * <p>loom-api's Unix socket cannot be used: Java 17's {@link HttpClient}
 * speaks TCP only. Use loom-api's TCP address ({@code api.listen}).
 */
public final class LoomClient {
    private static final long MAX_WAIT_MS = 300_000;
    private static final long STREAM_GIVE_UP_MS = 60_000;
    private static final long STREAM_BACKOFF_MAX_MS = 10_000;
    private static final long STREAM_STALL_MS = 60_000;
    /** Closes streams that went quiet (the server sends a comment every few seconds). */
    private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "loom-stream-watchdog");
                t.setDaemon(true);
                return t;
            });

    private final String base;
    private final String token;
    private final Duration timeout;
    private final HttpClient http;

    private LoomClient(Builder b) {
        String u = b.base;
        if (u.startsWith("unix:")) {
            throw new IllegalArgumentException("Java's HttpClient cannot connect to a Unix socket ("
                    + u + "): use loom-api's TCP address");
        }
        if (!u.startsWith("http://") && !u.startsWith("https://")) {
            throw new IllegalArgumentException("expected http://HOST:PORT, not " + u);
        }
        while (u.endsWith("/")) {
            u = u.substring(0, u.length() - 1);
        }
        this.base = u;
        this.token = b.token == null || b.token.isEmpty() ? null : b.token;
        this.timeout = b.timeout;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /**
     * @param base loom-api's address, http://HOST:PORT or https://...
     * @return a builder
     */
    public static Builder builder(String base) {
        return new Builder(base);
    }

    /** Settings of a client. */
    public static final class Builder {
        private final String base;
        private String token;
        private Duration timeout = Duration.ofSeconds(30);

        private Builder(String base) {
            this.base = base;
        }

        /**
         * @param token a bearer token sent with every request (null: none)
         * @return this builder
         */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /**
         * @param timeout the time limit of each request (default 30 s)
         * @return this builder
         */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** @return the client */
        public LoomClient build() {
            return new LoomClient(this);
        }
    }

    // ---- requests -------------------------------------------------------

    /**
     * Sends any route: {@code method path} (with its query) with a JSON
     * body.
     *
     * @param method GET, POST, DELETE...
     * @param path the path, starting with /api/v1/
     * @param body a value for {@link Json#write}, or null for none
     * @return the answer of a 2xx status, parsed (null when empty)
     * @throws LoomException when the status is not 2xx or no answer came
     */
    public Object request(String method, String path, Object body) {
        return send(method, path, body == null ? null : Json.write(body), "application/json",
                null, timeout);
    }

    private Object send(String method, String path, String body, String ctype, String tok,
            Duration limit) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path))
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (limit != null && !limit.isZero()) {
            rb.timeout(limit);
        }
        if (body != null) {
            rb.header("Content-Type", ctype);
        }
        String t = tok != null ? tok : token;
        if (t != null) {
            rb.header("Authorization", "Bearer " + t);
        }
        HttpResponse<String> r;
        try {
            r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LoomException(0, null, "request to " + base + " failed: " + e, null, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoomException(0, null, "interrupted", null, null, e);
        }
        if (r.statusCode() < 200 || r.statusCode() > 299) {
            throw LoomException.fromResponse(r.statusCode(), r.body());
        }
        if (r.body().isEmpty()) {
            return null;
        }
        try {
            return Json.parse(r.body());
        } catch (IllegalArgumentException e) {
            return r.body();
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> map(Object o) {
        return o instanceof Map ? (Map<String, Object>) o : new LinkedHashMap<>();
    }

    @SuppressWarnings("unchecked")
    private List<Map<String, Object>> list(Object o, String key) {
        Object v = map(o).get(key);
        return v instanceof List ? (List<Map<String, Object>>) v : List.of();
    }

    /**
     * Percent-encodes s as one path segment or query value (RFC 3986
     * unreserved characters stay).
     *
     * @param s the text
     * @return it, encoded
     */
    public static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~') {
                b.append((char) c);
            } else {
                b.append(String.format("%%%02X", c));
            }
        }
        return b.toString();
    }

    private static String query(Map<String, String> q) {
        StringBuilder b = new StringBuilder();
        if (q != null) {
            for (Map.Entry<String, String> e : q.entrySet()) {
                b.append(b.length() == 0 ? "?" : "&").append(escape(e.getKey())).append('=')
                        .append(escape(e.getValue()));
            }
        }
        return b.toString();
    }

    // ---- workflows ------------------------------------------------------

    /**
     * Applies a workflow file (loom-workflow(5)), YAML or JSON text.
     *
     * @param text the file's text
     * @return {"id","version","created"}
     * @throws LoomException 422 invalid_workflow with {@link LoomException#details()}
     */
    public Map<String, Object> applyWorkflow(String text) {
        return map(send("POST", "/api/v1/workflows", text, "application/yaml", null, timeout));
    }

    /**
     * Applies the workflow file at path.
     *
     * @param file the file
     * @return {"id","version","created"}
     * @throws IOException when the file cannot be read
     */
    public Map<String, Object> applyWorkflow(Path file) throws IOException {
        return applyWorkflow(Files.readString(file, StandardCharsets.UTF_8));
    }

    /**
     * Applies a workflow given as a map (the JSON form of the file).
     *
     * @param workflow the workflow
     * @return {"id","version","created"}
     */
    public Map<String, Object> applyWorkflow(Map<String, Object> workflow) {
        return map(request("POST", "/api/v1/workflows", workflow));
    }

    /** @return every workflow, as the list route gives them */
    public List<Map<String, Object>> listWorkflows() {
        return list(request("GET", "/api/v1/workflows", null), "workflows");
    }

    /**
     * @param id a workflow
     * @return it, with its spec and definition
     */
    public Map<String, Object> getWorkflow(String id) {
        return map(request("GET", "/api/v1/workflows/" + escape(id), null));
    }

    /**
     * Starts a run.
     *
     * @param workflowId the workflow
     * @param input its input (null: none)
     * @return the new execution's id
     */
    public String trigger(String workflowId, Map<String, Object> input) {
        return trigger(workflowId, input, null);
    }

    /**
     * Starts a run with a token for this call alone (a trigger token, say).
     *
     * @param workflowId the workflow
     * @param input its input (null: none)
     * @param callToken the bearer token of this call (null: the client's)
     * @return the new execution's id
     * @throws LoomException 409 conflict when the workflow is paused, 409
     *     concurrency_limit when its concurrency policy (skip) refuses a
     *     run, 404 not_found when it is unknown
     */
    public String trigger(String workflowId, Map<String, Object> input, String callToken) {
        Map<String, Object> body = Json.object("input", input == null ? Map.of() : input);
        Object r = send("POST", "/api/v1/workflows/" + escape(workflowId) + "/trigger",
                Json.write(body), "application/json", callToken, timeout);
        return (String) map(r).get("executionId");
    }

    // ---- executions -----------------------------------------------------

    /**
     * @param id an execution
     * @return it, with its tasks
     */
    public Execution getExecution(String id) {
        return new Execution(map(request("GET", "/api/v1/executions/" + escape(id), null)));
    }

    /**
     * Waits until the execution is SUCCESS, FAILED or CANCELLED, or the
     * time is up, with long polls of at most five minutes.
     *
     * @param id an execution
     * @param limit how long to wait
     * @return the execution as it is then ({@link Execution#isFinished()})
     */
    public Execution waitFor(String id, Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        int early = 0;
        for (;;) {
            long left = Math.max(0, (end - System.nanoTime()) / 1_000_000);
            long wait = Math.min(left, MAX_WAIT_MS);
            Duration t = timeout.isZero() ? null : timeout.plusMillis(wait);
            long t0 = System.nanoTime();
            Execution e = new Execution(map(send("GET", "/api/v1/executions/" + escape(id)
                    + "?wait=" + wait + "ms", null, null, null, t)));
            if (e.isFinished() || System.nanoTime() >= end) {
                return e;
            }
            // a server that answers a live run at once ignores ?wait: give
            // up rather than spin (as the loom command line does)
            boolean soon = (System.nanoTime() - t0) / 1_000_000 < wait / 2;
            if (wait >= 1000 && soon && ++early >= 5) {
                throw new LoomException(0, null, "the server does not hold ?wait requests",
                        null, null, null);
            }
            if (!soon) {
                early = 0;
            }
        }
    }

    /**
     * @param id an execution
     * @return its tasks
     */
    public List<Map<String, Object>> tasks(String id) {
        return getExecution(id).tasks();
    }

    /** One page of executions. */
    public record Page(List<Map<String, Object>> executions, String nextCursor) {
    }

    /**
     * One page of GET /api/v1/executions.
     *
     * @param query workflow, status, since, until, limit (null: none)
     * @param cursor the previous page's nextCursor, or null for the first
     * @return the page
     */
    public Page executionsPage(Map<String, String> query, String cursor) {
        Map<String, String> q = new LinkedHashMap<>();
        if (query != null) {
            q.putAll(query);
        }
        if (cursor != null) {
            q.put("cursor", cursor);
        }
        Object r = request("GET", "/api/v1/executions" + query(q), null);
        return new Page(list(r, "executions"), (String) map(r).get("nextCursor"));
    }

    /**
     * Every execution the query matches, newest first, fetched a page at
     * a time as the iteration goes.
     *
     * @param query as for {@link #executionsPage}
     * @return an iterable (each iterator starts again at the first page)
     */
    public Iterable<Map<String, Object>> executions(Map<String, String> query) {
        return () -> new Iterator<>() {
            private Page page;
            private int next;

            @Override
            public boolean hasNext() {
                while (page == null || next >= page.executions().size()) {
                    if (page != null && page.nextCursor() == null) {
                        return false;
                    }
                    String asked = page == null ? null : page.nextCursor();
                    page = executionsPage(query, asked);
                    next = 0;
                    if (asked != null && asked.equals(page.nextCursor())) {
                        // the same page again would be asked for ever
                        throw new LoomException(0, null, "the server gave the same page twice",
                                null, null, null);
                    }
                }
                return true;
            }

            @Override
            public Map<String, Object> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return page.executions().get(next++);
            }
        };
    }

    /**
     * Cancels a PENDING or RUNNING execution.
     *
     * @param id the execution
     * @return the execution as it is now
     * @throws LoomException 409 conflict when it is finished
     */
    public Execution cancel(String id) {
        return new Execution(map(request("POST", "/api/v1/executions/" + escape(id) + "/cancel",
                null)));
    }

    /**
     * Retries an execution.
     *
     * @param id the execution
     * @param fromFailed true: its failed and cancelled tasks again, in it;
     *     false: a new execution of the same version and params
     * @return the answer ({"executionId",...,"retryOf"} for a new run, else
     *     the execution with its request)
     */
    public Map<String, Object> retry(String id, boolean fromFailed) {
        return map(request("POST", "/api/v1/executions/" + escape(id) + "/retry",
                Json.object("fromFailed", fromFailed)));
    }

    /**
     * Runs one finished task again.
     *
     * @param id the execution
     * @param taskId the task
     * @param downstream also every finished task that depends on it
     * @return the execution with its request
     */
    public Map<String, Object> rerun(String id, String taskId, boolean downstream) {
        return map(request("POST", "/api/v1/executions/" + escape(id) + "/tasks/"
                + escape(taskId) + "/rerun", Json.object("downstream", downstream)));
    }

    /**
     * One page of an execution's log lines.
     *
     * @param id the execution
     * @param after the line id to start after (0: the first)
     * @param limit the page size (0: the server's default)
     * @return {"logs":[...],"next":...}
     */
    public Map<String, Object> logs(String id, long after, int limit) {
        return map(request("GET", "/api/v1/executions/" + escape(id) + "/logs?after=" + after
                + (limit > 0 ? "&limit=" + limit : ""), null));
    }

    // ---- dead letters ---------------------------------------------------

    /**
     * @param query all, workflow, execution, limit (null: open letters)
     * @return the dead letters, newest first
     */
    public List<Map<String, Object>> deadLetters(Map<String, String> query) {
        return list(request("GET", "/api/v1/dead-letters" + query(query), null), "deadLetters");
    }

    /**
     * Runs a dead letter's task again.
     *
     * @param id the letter
     * @return the execution with its request
     */
    public Map<String, Object> replayDeadLetter(long id) {
        return map(request("POST", "/api/v1/dead-letters/" + id + "/replay", null));
    }

    /**
     * Closes a dead letter without running anything.
     *
     * @param id the letter
     * @return the letter
     */
    public Map<String, Object> discardDeadLetter(long id) {
        return map(request("POST", "/api/v1/dead-letters/" + id + "/discard", null));
    }

    // ---- event streams --------------------------------------------------

    /** Receives the events of a stream. */
    @FunctionalInterface
    public interface EventListener {
        /**
         * @param e one event
         * @return true to go on, false to stop following
         */
        boolean onEvent(Event e);
    }

    /**
     * Follows the events and log lines of one execution (or of every
     * execution when executionId is null) until the listener stops, or the
     * execution's stream ends after its {@code end} event.
     *
     * <p>A connection that drops, or stays silent for a minute (the server
     * sends a comment every few seconds), is made again with Last-Event-ID set to
     * the last id received, after the wait the server asked for, doubling
     * up to 10 s; after a minute of failed attempts it gives up. Nothing
     * comes twice and nothing is missed.
     *
     * @param executionId the execution, or null for every one
     * @param query kind, task, workflow (null: none)
     * @param since the id of the last event already seen (null: from the
     *     first for an execution, from now on for every execution)
     * @param listener gets each event
     * @throws LoomException when the stream is refused or cannot be made
     */
    public void streamEvents(String executionId, Map<String, String> query, String since,
            EventListener listener) {
        Map<String, String> q = new LinkedHashMap<>();
        if (query != null) {
            q.putAll(query);
        }
        if (since != null || executionId != null) {
            q.put("since", since != null ? since : "0");
        }
        String path = (executionId == null ? "/api/v1/events"
                : "/api/v1/executions/" + escape(executionId) + "/events") + query(q);
        SseState st = new SseState();
        long failingSince = 0;
        long wait = 0;
        for (;;) {
            int got;
            try {
                got = streamOnce(path, st, listener);
            } catch (IOException e) {
                got = -1;
                st.lastError = e;
            }
            if (st.stopped) {
                return;
            }
            if (got > 0) {
                failingSince = 0;
                wait = 0;
            } else if (failingSince == 0) {
                failingSince = System.currentTimeMillis();
            }
            if (!st.connected || (failingSince != 0
                    && System.currentTimeMillis() - failingSince > STREAM_GIVE_UP_MS)) {
                throw new LoomException(0, null, "event stream from " + base + " failed: "
                        + st.lastError, null, null, st.lastError);
            }
            wait = wait == 0 ? (st.retry > 0 ? st.retry : 1000) : Math.min(wait * 2,
                    STREAM_BACKOFF_MAX_MS);
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LoomException(0, null, "interrupted", null, null, e);
            }
        }
    }

    private static final class SseState {
        String lastId = "";
        long retry = -1;
        boolean stopped;
        boolean connected;
        Exception lastError;
    }

    /** One connection: how many events it delivered. */
    private int streamOnce(String path, SseState st, EventListener listener) throws IOException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path))
                .header("Accept", "text/event-stream").header("Cache-Control", "no-cache").GET();
        if (token != null) {
            rb.header("Authorization", "Bearer " + token);
        }
        if (!st.lastId.isEmpty()) {
            rb.header("Last-Event-ID", st.lastId);
        }
        HttpResponse<InputStream> r;
        try {
            r = http.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoomException(0, null, "interrupted", null, null, e);
        }
        if (r.statusCode() != 200) {
            try (InputStream in = r.body()) {
                throw LoomException.fromResponse(r.statusCode(),
                        new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        st.connected = true;
        int got = 0;
        InputStream body = r.body();
        long[] lastRead = {System.nanoTime()};
        // a connection with no byte for a minute is dead: closing it ends
        // readLine() with an IOException, and the loop reconnects
        java.util.concurrent.ScheduledFuture<?> dog = WATCHDOG.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - lastRead[0] > STREAM_STALL_MS * 1_000_000) {
                try {
                    body.close();
                } catch (IOException ignored) {
                    // closing is all we can do
                }
            }
        }, STREAM_STALL_MS / 4, STREAM_STALL_MS / 4, java.util.concurrent.TimeUnit.MILLISECONDS);
        try (BufferedReader in = new BufferedReader(new InputStreamReader(body,
                StandardCharsets.UTF_8))) {
            String event = null;
            StringBuilder data = null;
            String line;
            while ((line = in.readLine()) != null) {
                lastRead[0] = System.nanoTime();
                if (line.isEmpty()) {
                    if (data != null) {
                        got++;
                        Event e = new Event(st.lastId, event == null ? "message" : event,
                                parseData(data.toString()));
                        if (!listener.onEvent(e) || "end".equals(e.event())) {
                            st.stopped = true;
                            return got;
                        }
                    }
                    event = null;
                    data = null;
                    continue;
                }
                if (line.startsWith(":")) {
                    continue;
                }
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1);
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                switch (field) {
                    case "event": event = value; break;
                    case "data":
                        data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                        break;
                    case "id":
                        if (value.indexOf('\0') < 0) {
                            st.lastId = value;
                        }
                        break;
                    case "retry":
                        if (value.matches("[0-9]+")) {
                            st.retry = Long.parseLong(value);
                        }
                        break;
                    default:
                        break;
                }
            }
        } finally {
            dog.cancel(false);
        }
        return got;
    }

    private static Object parseData(String data) {
        try {
            return Json.parse(data);
        } catch (IllegalArgumentException e) {
            return data;
        }
    }

    /**
     * Follows the log lines of an execution until it ends.
     *
     * @param executionId the execution
     * @param listener gets each line ({@code event} "log"; the fields taskId,
     *     attempt, stream, line, ts) and then the {@code end} event
     */
    public void followLogs(String executionId, EventListener listener) {
        streamEvents(executionId, Map.of("kind", "log"), null, listener);
    }

    /**
     * The base address, as given without trailing slashes.
     *
     * @return the address
     */
    public String base() {
        return base;
    }

    /**
     * Collects an iterable into a list, e.g. {@link #executions}.
     *
     * @param <T> the element type
     * @param it the iterable
     * @return its elements
     */
    public static <T> List<T> toList(Iterable<T> it) {
        List<T> l = new ArrayList<>();
        it.forEach(l::add);
        return l;
    }
}
