package org.linkloom.sdk;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The callback envelope loom-exec(8) POSTs to an HTTP task's URL (HTTP
 * TASKS there):
 *
 * <pre>
 * {"executionId":"exec-abc","taskId":"fetch_data","input":{...},
 *  "attempt":1,"timeout":300000,
 *  "scheduledTime":"2026-12-07T03:00:00Z",
 *  "callbackUrl":"http://loom:8080/api/v1/callbacks/TOKEN"}
 * </pre>
 *
 * @param executionId the run
 * @param taskId the task
 * @param input the task's input (an object; empty when none)
 * @param attempt 1 for the first attempt
 * @param timeoutMs the task's timeout in milliseconds
 * @param idempotencyKey the Idempotency-Key header: executionId/taskId/attempt
 * @param scheduledTime when a schedule or backfill started the run (RFC
 *     3339), or null
 * @param callbackUrl where to post the result of a task answered 202, or
 *     null when loom-exec has no exec.callback_url
 * @param envelope every member of the envelope
 */
public record TaskRequest(String executionId, String taskId, Map<String, Object> input,
        int attempt, long timeoutMs, String idempotencyKey, String scheduledTime,
        String callbackUrl, Map<String, Object> envelope) {

    /**
     * Parses an envelope.
     *
     * @param body the request body
     * @param idempotencyKey the Idempotency-Key header, or null to make it
     *     from the envelope
     * @return the request
     * @throws IllegalArgumentException when the body is not an envelope
     */
    @SuppressWarnings("unchecked")
    public static TaskRequest parse(byte[] body, String idempotencyKey) {
        Object v;
        try {
            v = Json.parse(new String(body, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the envelope is not JSON: " + e.getMessage(), e);
        }
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("the envelope is not a JSON object");
        }
        Map<String, Object> m = (Map<String, Object>) v;
        if (!(m.get("executionId") instanceof String) || !(m.get("taskId") instanceof String)) {
            throw new IllegalArgumentException("the envelope has no executionId or taskId");
        }
        Object in = m.get("input");
        int attempt = m.get("attempt") instanceof Number ? ((Number) m.get("attempt")).intValue() : 1;
        long timeout = m.get("timeout") instanceof Number ? ((Number) m.get("timeout")).longValue() : 0;
        String exec = (String) m.get("executionId");
        String task = (String) m.get("taskId");
        String key = idempotencyKey != null && !idempotencyKey.isEmpty() ? idempotencyKey
                : exec + "/" + task + "/" + attempt;
        return new TaskRequest(exec, task, in instanceof Map ? (Map<String, Object>) in : Map.of(),
                attempt, timeout, key, m.get("scheduledTime") instanceof String
                        ? (String) m.get("scheduledTime") : null,
                m.get("callbackUrl") instanceof String ? (String) m.get("callbackUrl") : null, m);
    }

    /**
     * @param body the request body
     * @return the request, its key made from the envelope
     */
    public static TaskRequest parse(String body) {
        return parse(body.getBytes(StandardCharsets.UTF_8), null);
    }

    /**
     * @param key a member of the input
     * @return it as a string, or null
     */
    public String inputString(String key) {
        Object o = input.get(key);
        return o == null ? null : o.toString();
    }

    /**
     * @param key a member of the input: a JSON number or a numeric string
     * @param def the value when it is neither
     * @return the number
     */
    public double inputNumber(String key, double def) {
        Object o = input.get(key);
        if (o instanceof Number) {
            return ((Number) o).doubleValue();
        }
        if (o instanceof String) {
            try {
                return Double.parseDouble((String) o);
            } catch (NumberFormatException e) {
                return def;
            }
        }
        return def;
    }
}
