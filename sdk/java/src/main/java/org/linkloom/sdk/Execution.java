package org.linkloom.sdk;

import java.util.List;
import java.util.Map;

/**
 * An execution as GET /api/v1/executions/{id} answers it: the run, its
 * params and its tasks with their outputs and attempts.
 *
 * @param raw every field of the answer
 */
public record Execution(Map<String, Object> raw) {
    /** @return the execution's id */
    public String id() {
        return (String) raw.get("id");
    }

    /** @return PENDING, RUNNING, SUCCESS, FAILED or CANCELLED */
    public String status() {
        return (String) raw.get("status");
    }

    /** @return whether it is SUCCESS, FAILED or CANCELLED */
    public boolean isFinished() {
        String s = status();
        return "SUCCESS".equals(s) || "FAILED".equals(s) || "CANCELLED".equals(s);
    }

    /** @return manual, api, schedule, backfill, retry, ... */
    public String trigger() {
        return (String) raw.get("trigger");
    }

    /** @return when a schedule or backfill started it (RFC 3339), or null */
    public String scheduledTime() {
        return (String) raw.get("scheduledTime");
    }

    /** @return the tasks, in topological order, each a map */
    @SuppressWarnings("unchecked")
    public List<Map<String, Object>> tasks() {
        Object t = raw.get("tasks");
        return t instanceof List ? (List<Map<String, Object>>) t : List.of();
    }

    /**
     * @param taskId a task of the run
     * @return that task's map, or null
     */
    public Map<String, Object> task(String taskId) {
        for (Map<String, Object> t : tasks()) {
            if (taskId.equals(t.get("taskId"))) {
                return t;
            }
        }
        return null;
    }

    /**
     * @param taskId a task of the run
     * @return its output (any JSON value), or null
     */
    public Object output(String taskId) {
        Map<String, Object> t = task(taskId);
        return t == null ? null : t.get("output");
    }
}
