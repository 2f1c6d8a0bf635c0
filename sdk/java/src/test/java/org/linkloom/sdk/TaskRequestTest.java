package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskRequestTest {
    @Test
    void everyMember() {
        TaskRequest t = TaskRequest.parse("{\"executionId\":\"exec-1\",\"taskId\":\"process\","
                + "\"input\":{\"n\":2,\"s\":\"7\"},\"attempt\":3,\"timeout\":60000,"
                + "\"scheduledTime\":\"2026-12-07T03:00:00Z\","
                + "\"callbackUrl\":\"http://loom:8080/api/v1/callbacks/x\"}");
        assertEquals("exec-1", t.executionId());
        assertEquals("process", t.taskId());
        assertEquals(3, t.attempt());
        assertEquals(60000, t.timeoutMs());
        assertEquals("2026-12-07T03:00:00Z", t.scheduledTime());
        assertEquals("http://loom:8080/api/v1/callbacks/x", t.callbackUrl());
        assertEquals("exec-1/process/3", t.idempotencyKey(), "made from the envelope");
        assertEquals(2.0, t.inputNumber("n", 0));
        assertEquals(7.0, t.inputNumber("s", 0), "a numeric string");
        assertEquals(9.0, t.inputNumber("none", 9));
    }

    @Test
    void optionalMembersMayBeMissing() {
        TaskRequest t = TaskRequest.parse("{\"executionId\":\"e\",\"taskId\":\"t\"}");
        assertEquals(Map.of(), t.input());
        assertEquals(1, t.attempt());
        assertNull(t.scheduledTime());
        assertNull(t.callbackUrl());
    }

    @Test
    void theCapturedEnvelope() throws IOException {
        Map<String, Object> f = SignatureTest.captured();
        TaskRequest t = TaskRequest.parse(((String) f.get("body")).getBytes(StandardCharsets.UTF_8),
                (String) f.get("idempotencyKey"));
        assertEquals("fetch_data", t.taskId());
        assertEquals(f.get("idempotencyKey"), t.idempotencyKey());
        assertEquals(300000, t.timeoutMs());
        assertEquals("2026-12-07", t.inputString("date"));
    }

    @Test
    void notAnEnvelope() {
        for (String bad : List.of("nope", "[1]", "{\"taskId\":\"t\"}", "{\"executionId\":1,\"taskId\":\"t\"}")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TaskRequest.parse(bad));
            assertTrue(e.getMessage().startsWith("the envelope"), e.getMessage());
        }
    }

    @Test
    void results() {
        assertEquals("{\"status\":\"SUCCESS\",\"output\":{\"k\":1},\"logs\":\"l\"}",
                TaskResult.success(Json.object("k", 1), "l").toJson());
        assertEquals("{\"status\":\"FAILED\",\"error\":{\"type\":\"ValidationException\","
                + "\"message\":\"bad\"}}", TaskResult.failed("ValidationException", "bad", null).toJson());
        assertEquals("{\"status\":\"RUNNING\"}", TaskResult.accepted().toJson());
        assertTrue(TaskResult.accepted().isAccepted());
    }
}
