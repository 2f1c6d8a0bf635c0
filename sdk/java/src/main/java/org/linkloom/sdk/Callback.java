package org.linkloom.sdk;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Completes an asynchronous task: a backend that answered 202 posts the
 * result to the envelope's {@link TaskRequest#callbackUrl()}, served by
 * loom-api (POST /api/v1/callbacks/TOKEN; the URL is its own credential).
 */
public final class Callback {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(10)).build();

    private Callback() {
    }

    /**
     * Posts result to callbackUrl.
     *
     * @param callbackUrl the envelope's callbackUrl
     * @param result SUCCESS or FAILED
     * @throws LoomException when loom-api refuses it (404: unknown token;
     *     409: the task no longer waits, e.g. it timed out) or cannot be
     *     reached (status 0)
     */
    public static void complete(String callbackUrl, TaskResult result) {
        if (callbackUrl == null) {
            throw new IllegalArgumentException("no callback URL: loom-exec needs exec.callback_url");
        }
        HttpRequest rq = HttpRequest.newBuilder(URI.create(callbackUrl))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(result.toJson(), StandardCharsets.UTF_8))
                .build();
        HttpResponse<String> r;
        try {
            r = HTTP.send(rq, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new LoomException(0, null, "callback failed: " + e, null, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoomException(0, null, "interrupted", null, null, e);
        }
        if (r.statusCode() / 100 != 2) {
            throw LoomException.fromResponse(r.statusCode(), r.body());
        }
    }
}
