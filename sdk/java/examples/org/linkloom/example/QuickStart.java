package org.linkloom.example;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.linkloom.sdk.Execution;
import org.linkloom.sdk.Json;
import org.linkloom.sdk.LoomClient;

/**
 * The Java SDK's client in one program: applies a workflow file, triggers
 * it, follows the run's log lines ("log TASK LINE"), waits, prints
 * "status STATUS" and the execution as JSON on the last line.
 *
 * <pre>
 * LOOM_TOKEN=... java -cp ... org.linkloom.example.QuickStart API FILE [INPUT-JSON]
 * </pre>
 *
 * Exit status 0 when the run succeeded, 1 otherwise.
 */
public final class QuickStart {
    private QuickStart() {
    }

    /**
     * @param args API FILE [INPUT-JSON]
     * @throws Exception on any failure
     */
    public static void main(String[] args) throws Exception {
        LoomClient loom = LoomClient.builder(args[0]).token(System.getenv("LOOM_TOKEN")).build();
        String wf = (String) loom.applyWorkflow(Path.of(args[1])).get("id");
        Map<String, Object> input = args.length > 2 ? Json.parseObject(args[2]) : Map.of();
        String id = loom.trigger(wf, input);
        System.out.println("triggered " + id);
        loom.followLogs(id, e -> {
            if ("log".equals(e.event())) {
                System.out.println("log " + e.fields().get("taskId") + " " + e.fields().get("line"));
            }
            return true;
        });
        Execution run = loom.waitFor(id, Duration.ofMinutes(2));
        System.out.println("status " + run.status());
        System.out.println(Json.write(run.raw()));
        System.exit("SUCCESS".equals(run.status()) ? 0 : 1);
    }
}
