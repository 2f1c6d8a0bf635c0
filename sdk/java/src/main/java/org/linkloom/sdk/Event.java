package org.linkloom.sdk;

/**
 * One server-sent event of an event stream (loom-api(8), EVENTS).
 *
 * @param id its id ("" for {@code end}, which has none)
 * @param event task, run, workflow, log, or end
 * @param data its data, parsed (a map; the raw text when not JSON)
 */
public record Event(String id, String event, Object data) {
    /** @return the data as a map (empty when it is not an object) */
    @SuppressWarnings("unchecked")
    public java.util.Map<String, Object> fields() {
        return data instanceof java.util.Map ? (java.util.Map<String, Object>) data : java.util.Map.of();
    }
}
