package org.linkloom.sdk;

import java.util.Map;

/**
 * What a task handler answers (loom-exec(8), HTTP TASKS):
 * {@code {"status":"SUCCESS","output":...,"logs":...}}, a FAILED result
 * with an error type, or RUNNING: accepted, to be completed later through
 * the callback URL ({@link Callback}).
 *
 * @param status SUCCESS, FAILED or RUNNING
 * @param output the output (any JSON value), or null
 * @param errorType for FAILED: an error class (loom-workflow(5), ERROR
 *     CLASSES) such as ValidationException
 * @param errorMessage for FAILED: why
 * @param logs text for the run's logs, or null
 */
public record TaskResult(String status, Object output, String errorType, String errorMessage,
        String logs) {

    /**
     * @param output the task's output (any JSON value)
     * @param logs text for the run's logs, or null
     * @return a SUCCESS result
     */
    public static TaskResult success(Object output, String logs) {
        return new TaskResult("SUCCESS", output, null, null, logs);
    }

    /**
     * @param output the task's output
     * @return a SUCCESS result without logs
     */
    public static TaskResult success(Object output) {
        return success(output, null);
    }

    /**
     * @param errorType ValidationException, TaskFailedException, ...; a type
     *     that is not an error class counts as TaskFailedException
     * @param message why
     * @param logs text for the run's logs, or null
     * @return a FAILED result
     */
    public static TaskResult failed(String errorType, String message, String logs) {
        return new TaskResult("FAILED", null, errorType == null ? "TaskFailedException" : errorType,
                message, logs);
    }

    /** @return the answer that makes the task asynchronous (HTTP 202) */
    public static TaskResult accepted() {
        return new TaskResult("RUNNING", null, null, null, null);
    }

    /** @return whether this is {@link #accepted()} */
    public boolean isAccepted() {
        return "RUNNING".equals(status);
    }

    /** @return the result as the JSON object loom-exec and loom-api read */
    public Map<String, Object> toMap() {
        Map<String, Object> m = Json.object("status", status);
        if ("SUCCESS".equals(status)) {
            m.put("output", output);
        }
        if (errorType != null) {
            m.put("error", Json.object("type", errorType, "message",
                    errorMessage == null ? "" : errorMessage));
        }
        if (logs != null) {
            m.put("logs", logs);
        }
        return m;
    }

    /** @return {@link #toMap()} as JSON text */
    public String toJson() {
        return Json.write(toMap());
    }
}
