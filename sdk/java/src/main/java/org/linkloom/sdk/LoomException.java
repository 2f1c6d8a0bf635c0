package org.linkloom.sdk;

import java.util.List;
import java.util.Map;

/**
 * A call to loom-api that failed: the HTTP status, the API's error code,
 * message and field (loom-api(8), ERROR RESPONSES), or status 0 when no
 * answer came (the cause says why: nothing listening, a timeout).
 *
 * <p>Codes include {@code bad_request}, {@code unauthorized} (401),
 * {@code forbidden} (403), {@code not_found} (404), {@code conflict} (409),
 * {@code concurrency_limit} (409: a trigger refused by the workflow's
 * concurrency policy),
 * {@code invalid_workflow} and {@code invalid_input} (422) and
 * {@code unavailable} (503).
 */
public class LoomException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The HTTP status, 0 when no answer came. */
    private final int status;
    /** The API's error code, or null. */
    private final String code;
    /** The part of the request the error names, or null. */
    private final String field;
    private final transient List<Object> details;

    /**
     * An error with every part given.
     *
     * @param status the HTTP status, 0 when no answer came
     * @param code the API's error code, or null
     * @param message the message
     * @param field the offending part of the request, or null
     * @param details the API's details (invalid_workflow), or null
     * @param cause the cause, or null
     */
    public LoomException(int status, String code, String message, String field,
            List<Object> details, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
        this.field = field;
        this.details = details == null ? List.of() : details;
    }

    /**
     * The error of an answer that was not 2xx.
     *
     * @param status its HTTP status
     * @param body its body
     * @return the error: the API's code and message when the body is an
     *     API error, else "HTTP status" and the start of the body
     */
    @SuppressWarnings("unchecked")
    public static LoomException fromResponse(int status, String body) {
        try {
            Object v = Json.parse(body);
            if (v instanceof Map && ((Map<String, Object>) v).get("error") instanceof Map) {
                Map<String, Object> e = (Map<String, Object>) ((Map<String, Object>) v).get("error");
                Object d = e.get("details");
                return new LoomException(status, str(e.get("code")),
                        e.get("message") == null ? "HTTP " + status : str(e.get("message")),
                        str(e.get("field")), d instanceof List ? (List<Object>) d : null, null);
            }
        } catch (IllegalArgumentException notJson) {
            // fall through: the body is not JSON
        }
        String start = body == null ? "" : body.strip();
        if (start.length() > 200) {
            start = start.substring(0, 200) + "...";
        }
        return new LoomException(status, null,
                "HTTP " + status + (start.isEmpty() ? "" : ": " + start), null, null, null);
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    /** @return the HTTP status, 0 when no answer came */
    public int status() {
        return status;
    }

    /** @return the API's error code ("not_found"), or null */
    public String code() {
        return code;
    }

    /** @return the part of the request the error names, or null */
    public String field() {
        return field;
    }

    /** @return the API's details (each a map), empty when none */
    public List<Object> details() {
        return details;
    }
}
