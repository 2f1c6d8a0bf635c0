package org.linkloom.example;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.linkloom.sdk.Callback;
import org.linkloom.sdk.TaskException;
import org.linkloom.sdk.TaskHandler;
import org.linkloom.sdk.TaskRequest;
import org.linkloom.sdk.TaskResult;
import org.linkloom.sdk.TaskServer;

/**
 * The sample workflow's user backend (contrib/examples/sample.yaml) written
 * with the Java SDK: POST /api/tasks/{fetch-data,validate,process,send-email}.
 *
 * <pre>
 * java -cp loom-client.jar:examples org.linkloom.example.ExampleBackend [PORT]
 * </pre>
 *
 * Listens on 127.0.0.1 (port 0 by default: the kernel picks) and prints
 * "port N" once listening. With LOOM_BACKEND_SECRET set, requests must be
 * signed with it. A task whose input has "async": true answers 202 and
 * completes from another thread through its callback URL.
 */
public final class ExampleBackend {
    private static final ExecutorService LATER = Executors.newCachedThreadPool();

    private ExampleBackend() {
    }

    /** FNV-1a, 64 bits: a stable "checksum" for made-up records. */
    static String fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return String.format("%016x", h);
    }

    static TaskResult fetchData(TaskRequest rq) throws TaskException {
        double limit = rq.inputNumber("limit", 100);
        if (limit < 0 || limit > 1e6) {
            throw new TaskException("ValidationException", "limit must be between 0 and 1000000");
        }
        String date = rq.inputString("date") == null ? "today" : rq.inputString("date");
        long n = (long) limit;
        return TaskResult.success(Map.of("recordCount", n, "checksum", fnv1a(date + "/" + n)),
                "Fetched " + n + " records for " + date);
    }

    static TaskResult validate(TaskRequest rq) throws TaskException {
        double n = rq.inputNumber("recordCount", -1);
        String sum = rq.inputString("checksum");
        if (n < 0) {
            throw new TaskException("ValidationException", "no recordCount in the input");
        }
        if (sum == null || !sum.matches("[0-9a-f]{16}")) {
            throw new TaskException("ValidationException", "the checksum is not 16 hex digits");
        }
        return TaskResult.success(Map.of("valid", true, "recordCount", (long) n),
                "Validated " + (long) n + " records (checksum " + sum + ")");
    }

    static TaskResult process(TaskRequest rq) {
        long n = (long) rq.inputNumber("recordCount", 0);
        String title = rq.inputString("title") == null ? "Report" : rq.inputString("title");
        return TaskResult.success(Map.of("processed", n, "title", title,
                "reportUrl", "https://reports.example/" + rq.executionId() + ".csv"),
                "Processed " + n + " records");
    }

    static TaskResult sendEmail(TaskRequest rq) {
        String to = rq.inputString("to") == null ? "team@example.com" : rq.inputString("to");
        String subject = rq.inputString("subject") == null ? "Report" : rq.inputString("subject");
        return TaskResult.success(Map.of("sent", true, "to", to,
                "messageId", "<" + rq.executionId() + "@loom.example>"),
                "Sent \"" + subject + "\" to " + to);
    }

    /** Runs task now, or with "async": true later, through the callback. */
    static TaskHandler maybeLater(TaskHandler task) {
        return rq -> {
            boolean later = Boolean.TRUE.equals(rq.input().get("async")) && rq.callbackUrl() != null;
            System.err.println("loom-java-example-backend: " + rq.executionId() + " "
                    + rq.taskId() + " attempt " + rq.attempt() + (later ? " (async)" : ""));
            if (!later) {
                return task.handle(rq);
            }
            LATER.submit(() -> {
                TaskResult r;
                try {
                    r = task.handle(rq);
                } catch (TaskException e) {
                    r = TaskResult.failed(e.type(), e.getMessage(), null);
                } catch (Exception e) {
                    r = TaskResult.failed("TaskFailedException", e.toString(), null);
                }
                try {
                    Callback.complete(rq.callbackUrl(), r);
                } catch (RuntimeException e) {
                    System.err.println("loom-java-example-backend: callback: " + e.getMessage());
                }
            });
            return TaskResult.accepted();
        };
    }

    /**
     * @param args [PORT]
     * @throws Exception when it cannot listen
     */
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        TaskServer s = TaskServer.create(new InetSocketAddress("127.0.0.1", port));
        String secret = System.getenv("LOOM_BACKEND_SECRET");
        if (secret != null && !secret.isEmpty()) {
            s.requireSignature(secret.getBytes(StandardCharsets.UTF_8));
        }
        s.handle("/api/tasks/fetch-data", maybeLater(ExampleBackend::fetchData))
                .handle("/api/tasks/validate", maybeLater(ExampleBackend::validate))
                .handle("/api/tasks/process", maybeLater(ExampleBackend::process))
                .handle("/api/tasks/send-email", maybeLater(ExampleBackend::sendEmail))
                .start();
        System.out.println("port " + s.port());
        System.out.flush();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            s.stop();
            stop.countDown();
        }));
        stop.await();
    }
}
