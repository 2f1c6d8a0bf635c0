package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Every client call against a real stack (tests/sdk-java.bats starts
 * PostgreSQL, loom-api with api.auth = token, loom-engine, loom-exec and
 * the Java example backend). Environment: LOOM_API, LOOM_OPERATOR,
 * LOOM_READER, SEED_FILE (the sample workflow "sdk-java-seed" pointing at
 * the example backend). Fails, never skips, when they are missing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveIT {
    private static LoomClient op;
    private static String seedRun;

    private static String env(String name) {
        String v = System.getenv(name);
        assertNotNull(v, name + " is not set: run this through tests/sdk-java.bats");
        return v;
    }

    @BeforeAll
    static void client() {
        op = LoomClient.builder(env("LOOM_API")).token(env("LOOM_OPERATOR")).build();
    }

    @Test
    @Order(1)
    void workflows() throws Exception {
        LoomException bad = assertThrows(LoomException.class, () -> op.applyWorkflow("id: ["));
        assertEquals(422, bad.status());
        assertEquals("invalid_workflow", bad.code());
        assertTrue(!bad.details().isEmpty());
        assertEquals("sdk-java-seed", op.applyWorkflow(Path.of(env("SEED_FILE"))).get("id"));
        assertEquals("sdk-java-sleep", op.applyWorkflow(Json.object("id", "sdk-java-sleep",
                "tasks", List.of(Json.object("id", "nap", "type", "shell",
                        "command", "sleep 120")))).get("id"));
        assertTrue(op.listWorkflows().size() >= 2);
        Map<?, ?> spec = (Map<?, ?>) op.getWorkflow("sdk-java-seed").get("spec");
        assertEquals("fetch_data", ((Map<?, ?>) ((List<?>) spec.get("tasks")).get(0)).get("id"));
        LoomException nf = assertThrows(LoomException.class, () -> op.getWorkflow("no-such"));
        assertEquals(404, nf.status());
        assertEquals("not_found", nf.code());
    }

    @Test
    @Order(2)
    void theSeedRunsAndOutputsFlow() {
        seedRun = op.trigger("sdk-java-seed", Map.of("limit", 7));
        Execution run = op.waitFor(seedRun, Duration.ofMinutes(2));
        assertEquals("SUCCESS", run.status());
        // "manual" until the scheduler's change names API triggers "api"
        assertTrue(java.util.Set.of("api", "manual").contains(run.trigger()), run.trigger());
        assertEquals(7L, ((Map<?, ?>) run.output("fetch_data")).get("recordCount"));
        assertEquals(7L, ((Map<?, ?>) run.output("validate")).get("recordCount"));
        assertEquals("Report for 2024-01-14", ((Map<?, ?>) run.output("process")).get("title"));
        assertTrue(((String) ((Map<?, ?>) run.output("send_email")).get("messageId"))
                .contains(seedRun));
        assertEquals(4, op.tasks(seedRun).size());
    }

    @Test
    @Order(3)
    void eventsAndLogs() {
        List<Event> all = new ArrayList<>();
        op.streamEvents(seedRun, null, null, e -> all.add(e));
        assertEquals("end", all.get(all.size() - 1).event());
        long logs = all.stream().filter(e -> e.event().equals("log")).count();
        assertEquals(4, logs);
        assertTrue(all.stream().filter(e -> e.event().equals("task")).count() >= 12);
        // resume after the third: exactly what came after
        List<Event> rest = new ArrayList<>();
        op.streamEvents(seedRun, null, all.get(2).id(), e -> rest.add(e));
        assertEquals(all.subList(3, all.size()).stream().map(Event::id).toList(),
                rest.stream().map(Event::id).toList());
        List<String> lines = new ArrayList<>();
        op.followLogs(seedRun, e -> {
            if (e.event().equals("log")) {
                lines.add(e.fields().get("taskId") + " " + e.fields().get("line"));
            }
            return true;
        });
        assertEquals("fetch_data Fetched 7 records for 2024-01-14", lines.get(0));
        assertEquals(4, lines.size());
        Map<String, Object> page = op.logs(seedRun, 0, 2);
        assertEquals(2, ((List<?>) page.get("logs")).size());
        // the stream of every execution, which a listener ends
        List<Event> runs = new ArrayList<>();
        op.streamEvents(null, Map.of("kind", "run"), "0", e -> !runs.add(e));
        assertEquals("run", runs.get(0).event());
        // a listener that stops
        int[] n = {0};
        op.streamEvents(seedRun, null, null, e -> ++n[0] < 2);
        assertEquals(2, n[0]);
    }

    @Test
    @Order(4)
    void controls() {
        assertEquals(seedRun, op.retry(seedRun, false).get("retryOf"));
        Map<?, ?> rr = op.rerun(seedRun, "send_email", false);
        assertEquals("send_email", ((Map<?, ?>) rr.get("request")).get("taskId"));
        op.waitFor(seedRun, Duration.ofMinutes(1));

        String sleepy = op.trigger("sdk-java-sleep", null);
        op.cancel(sleepy);
        assertEquals("CANCELLED", op.waitFor(sleepy, Duration.ofMinutes(1)).status());
        LoomException again = assertThrows(LoomException.class, () -> op.cancel(sleepy));
        assertEquals(409, again.status());
        assertEquals("conflict", again.code());

        String bad = op.trigger("sdk-java-seed", Map.of("limit", -1));
        Execution failed = op.waitFor(bad, Duration.ofMinutes(1));
        assertEquals("FAILED", failed.status());
        assertEquals("ValidationException",
                ((Map<?, ?>) failed.task("fetch_data").get("error")).get("type"));
        op.retry(bad, true);
        op.waitFor(bad, Duration.ofMinutes(1));
        assertTrue(op.deadLetters(Map.of("all", "true", "workflow", "sdk-java-seed")).size() >= 1);
        List<Map<String, Object>> open = op.deadLetters(Map.of("workflow", "sdk-java-seed"));
        assertTrue(!open.isEmpty());
        op.replayDeadLetter(((Number) open.get(0).get("id")).longValue());
        op.waitFor(bad, Duration.ofMinutes(1));
        assertEquals(404, assertThrows(LoomException.class,
                () -> op.replayDeadLetter(999999)).status());
    }

    @Test
    @Order(5)
    void paging() {
        List<Map<String, Object>> all = LoomClient.toList(
                op.executions(Map.of("workflow", "sdk-java-seed", "limit", "2")));
        LoomClient.Page one = op.executionsPage(Map.of("workflow", "sdk-java-seed", "limit", "1000"),
                null);
        assertEquals(one.executions().size(), all.size());
        assertTrue(all.size() >= 3);
        HashSet<Object> ids = new HashSet<>();
        all.forEach(e -> ids.add(e.get("id")));
        assertEquals(all.size(), ids.size(), "each run once");
    }

    @Test
    @Order(6)
    void tokens() {
        LoomClient rd = LoomClient.builder(env("LOOM_API")).token(env("LOOM_READER")).build();
        LoomException f = assertThrows(LoomException.class, () -> rd.trigger("sdk-java-seed", null));
        assertEquals(403, f.status());
        assertEquals("forbidden", f.code());
        assertNotNull(rd.trigger("sdk-java-seed", null, env("LOOM_OPERATOR")),
                "a token for one call");
        assertEquals(403, assertThrows(LoomException.class,
                () -> rd.trigger("sdk-java-seed", null)).status(), "and only that call");
        LoomClient anon = LoomClient.builder(env("LOOM_API")).build();
        LoomException u = assertThrows(LoomException.class, anon::listWorkflows);
        assertEquals(401, u.status());
        assertEquals("unauthorized", u.code());
    }
}
