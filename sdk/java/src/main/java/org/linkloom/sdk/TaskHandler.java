package org.linkloom.sdk;

/**
 * A task of a user backend: gets the envelope, answers the result.
 *
 * <p>Return {@link TaskResult#accepted()} to answer 202 and complete the
 * task later with {@link Callback#complete}. Throw {@link TaskException}
 * for a FAILED result with an error type; any other exception is answered
 * 500, which loom-exec counts as HttpServerError (retried when the task's
 * retryOn says so).
 */
@FunctionalInterface
public interface TaskHandler {
    /**
     * @param request the envelope
     * @return the result
     * @throws Exception anything: see above
     */
    TaskResult handle(TaskRequest request) throws Exception;
}
