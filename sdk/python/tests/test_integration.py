"""Integration tests against a real Link Loom stack.

tests/sdk-python.bats starts PostgreSQL, loom-api (TCP, a Unix socket,
and a second one that asks for tokens), loom-engine and loom-exec, and
exports where they are (see tests/sdk-helpers.bash).  Without LOOM_API
these tests are skipped, unless LOOM_SDK_INTEGRATION=1 says they must run.
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

from linkloom import (Conflict, LinkLoomClient, NotFound, Unauthorized,
                      TaskResult, Unprocessable, WaitTimeout,
                      verify_signature)

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
import seed_backend  # noqa: E402

API = os.environ.get("LOOM_API")
REQUIRED = os.environ.get("LOOM_SDK_INTEGRATION") == "1"
SECRET = os.environ.get("LOOM_SDK_SIGNING_SECRET", "")


def setUpModule():
    if not API and REQUIRED:
        raise RuntimeError("LOOM_SDK_INTEGRATION=1 but LOOM_API is not set")


def seed_yaml(workflow_id, backend):
    with open(os.path.join(HERE, "..", "..", "testdata", "seed.yaml")) as f:
        return f.read().replace("@ID@", workflow_id).replace("@BACKEND@", backend)


@unittest.skipUnless(API, "no stack: LOOM_API is not set (see tests/sdk-python.bats)")
class StackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = LinkLoomClient(API)
        cls.backend = seed_backend.start("127.0.0.1", 0, SECRET)
        cls.backend_url = f"http://127.0.0.1:{cls.backend.server_address[1]}"
        cls.client.apply_workflow(seed_yaml("py-seed", cls.backend_url))

    @classmethod
    def tearDownClass(cls):
        cls.backend.shutdown()
        cls.backend.server_close()

    def test_seed_run_outputs_flow_logs_follow_and_async(self):
        c = self.client
        self.assertIn("py-seed", [w["id"] for w in c.list_workflows()])
        self.assertEqual(c.get_workflow("py-seed")["spec"]["tasks"][0]["id"],
                         "fetch_data")
        run = c.trigger("py-seed", {"limit": 5})
        ex_id = run["executionId"]
        lines = [(ln["taskId"], ln["line"]) for ln in c.follow_logs(ex_id)]
        ex = c.wait(ex_id, timeout=120)
        self.assertEqual(ex["status"], "SUCCESS", json.dumps(ex))
        out = {t["taskId"]: t["output"] for t in c.get_tasks(ex_id)}
        self.assertEqual(out["fetch_data"]["recordCount"], 5)
        self.assertEqual(out["fetch_data"]["checksum"],
                         seed_backend.fnv1a("2024-01-14/5"))
        self.assertEqual(out["validate"], {"valid": True, "recordCount": 5})
        self.assertEqual(out["process"]["processed"], 5)
        self.assertEqual(out["process"]["title"], "Report for 2024-01-14")
        self.assertEqual(out["process"]["reportUrl"],
                         f"{self.backend_url}/reports/{ex_id}.csv")
        # send_email answered 202 and completed through the callback URL
        self.assertEqual(out["send_email"]["messageId"], f"<{ex_id}@loom.example>")
        self.assertEqual(out["send_email"]["to"], "team@example.com")
        # the backend notes its callback once loom-api has answered it,
        # which may be just after the run ended: wait for the note
        key = f"{ex_id}/send_email/1"
        deadline = time.monotonic() + 10
        while key not in self.backend.backend.called_back and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(key, self.backend.backend.called_back)
        # the log lines came live, in order, with the async task's last
        self.assertEqual(lines[0], ("fetch_data", "Fetched 5 records for 2024-01-14"))
        self.assertIn(("send_email",
                       'Sent "Report for 2024-01-14" to team@example.com'), lines)
        self.assertEqual(len(lines), 4)
        page = c.logs(ex_id)
        self.assertEqual([ln["line"] for ln in page["logs"]], [ln for _, ln in lines])
        self.assertEqual(c.logs(ex_id, task="process")["logs"][0]["line"],
                         "Processed 5 records")

    def test_retried_by_error_type(self):
        c = self.client
        ex_id = c.trigger("py-seed", {"limit": 2, "failAttempts": 2})["executionId"]
        ex = c.wait(ex_id, timeout=120)
        self.assertEqual(ex["status"], "SUCCESS")
        fetch = ex["tasks"][0]
        self.assertEqual(fetch["attempt"], 3)
        self.assertEqual([a["error"]["type"] if a["error"] else None
                          for a in fetch["attempts"]],
                         ["HttpServerError", "HttpServerError", None])

    def test_file_apply_pause_force_and_the_stream_of_every_event(self):
        import pathlib
        import tempfile
        c = self.client
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "seed.yaml")
            with open(path, "w") as f:
                f.write(seed_yaml("py-seed", self.backend_url))
            # the same spec: no new version
            self.assertFalse(c.apply_workflow_file(path)["created"])
            self.assertFalse(c.apply_workflow(pathlib.Path(path))["created"])
            self.assertFalse(c.register_workflow(seed_yaml("py-seed", self.backend_url))["created"])
        self.assertTrue(c.pause_workflow("py-seed")["paused"])
        try:
            with self.assertRaises(Conflict):
                c.trigger("py-seed")
            ex_id = c.trigger("py-seed", force=True)["executionId"]
        finally:
            self.assertFalse(c.unpause_workflow("py-seed")["paused"])
        self.assertEqual(c.wait(ex_id, timeout=120)["status"], "SUCCESS")
        for ev in c.events(since=0, workflow="py-seed", kinds=["run"]):
            self.assertEqual(ev.event, "run")
            if ev.data["executionId"] == ex_id:
                break

    def test_events_resume_with_last_event_id(self):
        c = self.client
        ex_id = c.trigger("py-seed")["executionId"]
        c.wait(ex_id, timeout=120)
        evs = list(c.events(ex_id, since=0))
        self.assertEqual(evs[-1].event, "end")
        self.assertEqual(evs[-1].data["status"], "SUCCESS")
        ids = [e.id for e in evs if e.id is not None]
        self.assertGreater(len(ids), 8)
        again = [e.id for e in c.events(ex_id, last_event_id=ids[3])
                 if e.id is not None]
        self.assertEqual(again, ids[4:])
        kinds = {e.event for e in evs}
        self.assertTrue({"run", "task", "log", "end"} <= kinds, kinds)

    def test_paging_iterates_every_run_once(self):
        c = self.client
        mine = {c.trigger("py-seed", {"limit": i})["executionId"] for i in range(3)}
        for e in mine:
            c.wait(e, timeout=120)
        page = c.list_executions_page(workflow="py-seed", limit=1)
        self.assertEqual(len(page["executions"]), 1)
        self.assertTrue(page["nextCursor"])
        seen = [e["id"] for e in c.list_executions(workflow="py-seed", limit=1)]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(mine <= set(seen))

    def test_errors_carry_status_code_and_message(self):
        c = self.client
        with self.assertRaises(NotFound) as cm:
            c.get_workflow("no-such-flow")
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "not_found"))
        self.assertIn("no-such-flow", cm.exception.message)
        with self.assertRaises(Unprocessable) as cm:
            c.apply_workflow("id: bad\ntasks:\n  - id: a\n    dependsOn: [nosuch]\n")
        self.assertEqual(cm.exception.code, "invalid_workflow")
        self.assertTrue(cm.exception.details)
        with self.assertRaises(Unprocessable) as cm:
            c.trigger("py-seed", {"undeclared": 1})
        self.assertEqual(cm.exception.code, "invalid_input")
        # a callback whose token loom-api never gave out
        with self.assertRaises(NotFound):
            c.complete(f"{API}/api/v1/callbacks/exec-x~t~{'0' * 64}",
                       TaskResult.success())

    def test_cancel_retry_rerun_and_dead_letters(self):
        c = self.client
        # a dict workflow: a slow shell task, and a task that always fails
        res = c.apply_workflow({
            "id": "py-controls",
            "tasks": [
                {"id": "slow", "type": "shell", "command": "sleep 60"},
            ]})
        self.assertEqual(res["id"], "py-controls")
        ex_id = c.trigger("py-controls")["executionId"]
        with self.assertRaises(WaitTimeout) as cm:
            c.wait(ex_id, timeout=0.5)
        self.assertIn(cm.exception.execution["status"], ("PENDING", "RUNNING"))
        c.cancel(ex_id)
        self.assertEqual(c.wait(ex_id, timeout=60)["status"], "CANCELLED")
        with self.assertRaises(Conflict):
            c.cancel(ex_id)

        c.apply_workflow({
            "id": "py-dead",
            "signing": {"secretEnv": "LOOM_SDK_SIGNING_SECRET"},
            "tasks": [
                {"id": "check", "type": "http", "maxAttempts": 1,
                 "url": f"{self.backend_url}/api/tasks/validate",
                 "input": {"recordCount": -1}},
                {"id": "after", "type": "shell", "command": "echo done",
                 "dependsOn": ["check"]},
            ]})
        ex_id = c.trigger("py-dead")["executionId"]
        ex = c.wait(ex_id, timeout=60)
        self.assertEqual(ex["status"], "FAILED")
        check = ex["tasks"][0]
        self.assertEqual(check["error"]["type"], "ValidationException")
        letters = c.dead_letters(execution=ex_id)
        self.assertEqual([(d["taskId"], d["status"]) for d in letters],
                         [("check", "open")])
        self.assertEqual(c.get_dead_letter(letters[0]["id"])["executionStatus"],
                         "FAILED")
        self.assertEqual(c.replay_dead_letter(letters[0]["id"])["request"]["kind"],
                         "replay")
        self.assertEqual(c.wait(ex_id, timeout=60)["status"], "FAILED")
        self.assertEqual(c.dead_letters(execution=ex_id, all=True)[-1]["status"],
                         "replayed")
        self.assertEqual(c.retry(ex_id, from_failed=True)["request"]["kind"], "retry")
        self.assertEqual(c.wait(ex_id, timeout=60)["status"], "FAILED")
        open_letters = c.dead_letters(execution=ex_id)
        self.assertEqual(len(open_letters), 1)
        self.assertEqual(c.discard_dead_letter(open_letters[0]["id"])["status"],
                         "discarded")
        self.assertEqual(c.dead_letters(execution=ex_id), [])
        fresh = c.retry(ex_id, from_failed=False)
        self.assertEqual(fresh["retryOf"], ex_id)

        ok = c.trigger("py-seed")["executionId"]
        c.wait(ok, timeout=120)
        rr = c.rerun_task(ok, "process", downstream=True)
        self.assertEqual(rr["request"]["kind"], "rerun")
        ex = c.wait(ok, timeout=120)
        self.assertEqual(ex["status"], "SUCCESS")
        process = [t for t in ex["tasks"] if t["taskId"] == "process"][0]
        self.assertEqual(process["attempt"], 2)

    def test_stream_resumes_across_a_loom_api_restart(self):
        """The follower's loom-api stops mid-run (SIGTERM ends every
        stream) and another starts on its port: the SDK reconnects with
        Last-Event-ID and no line is lost or repeated."""
        bin_dir = os.environ.get("LOOM_BIN")
        if REQUIRED:
            self.assertTrue(bin_dir)
        elif not bin_dir:
            self.skipTest("LOOM_BIN is not set")

        def start_api(port):
            p = subprocess.Popen(
                [os.path.join(bin_dir, "loom-api"), "--listen",
                 f"127.0.0.1:{port}", "--print-url"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            url = p.stdout.readline().strip()
            self.assertTrue(url, p.stderr.read() if not url else "")
            return p, url

        c = self.client
        c.apply_workflow({"id": "py-lines", "tasks": [{
            "id": "count", "type": "shell",
            "command": "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done"}]})
        api, url = start_api(0)
        port = int(url.rsplit(":", 1)[1])
        try:
            ex_id = c.trigger("py-lines")["executionId"]
            lines = []
            for ln in LinkLoomClient(url).follow_logs(ex_id):
                lines.append(ln["line"])
                if len(lines) == 2:
                    api.terminate()
                    api.wait(timeout=30)
                    api, _ = start_api(port)
        finally:
            api.terminate()
            api.wait(timeout=30)
        self.assertEqual(lines, [f"line {i}" for i in range(1, 7)])
        self.assertEqual(c.wait(ex_id, timeout=60)["status"], "SUCCESS")

    def test_unix_socket(self):
        sock = os.environ.get("LOOM_SDK_SOCKET")
        if REQUIRED:
            self.assertTrue(sock)
        elif not sock:
            self.skipTest("LOOM_SDK_SOCKET is not set")
        for c in (LinkLoomClient(socket_path=sock),
                  LinkLoomClient(f"unix:{sock}")):
            self.assertIn("py-seed", [w["id"] for w in c.list_workflows()])

    def test_bearer_token_per_call(self):
        url, token = os.environ.get("LOOM_SDK_AUTHED_API"), os.environ.get("LOOM_SDK_TOKEN")
        if REQUIRED:
            self.assertTrue(url and token)
        elif not (url and token):
            self.skipTest("LOOM_SDK_AUTHED_API/LOOM_SDK_TOKEN are not set")
        anon = LinkLoomClient(url, token="")
        with self.assertRaises(Unauthorized) as cm:
            anon.trigger("py-seed")
        self.assertEqual(cm.exception.status, 401)
        run = anon.trigger("py-seed", {"limit": 1}, token=token)
        self.assertEqual(LinkLoomClient(url, token=token).wait(
            run["executionId"], timeout=120)["status"], "SUCCESS")

    def test_signature_captured_from_loom_exec(self):
        """loom-exec --stdin signs a request to a raw capturing server; the
        SDK verifies what came over the wire."""
        got = {}

        class Capture(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got["body"] = self.rfile.read(n)
                got["ts"] = self.headers.get("X-Loom-Timestamp")
                got["sig"] = self.headers.get("X-Loom-Signature")
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Capture)
        threading.Thread(target=srv.handle_request, daemon=True).start()
        req = {"executionId": "exec-capture", "taskId": "t", "input": {"a": [1, "é"]},
               "task": {"type": "http", "timeout": "10s",
                        "url": f"http://127.0.0.1:{srv.server_address[1]}/x",
                        "signing": {"secretEnv": "CAPTURE_SECRET"}}}
        env = dict(os.environ, CAPTURE_SECRET="capture secret")
        loom_exec = os.path.join(os.environ.get("LOOM_BIN", ""), "loom-exec")
        r = subprocess.run([loom_exec, "--stdin"], input=json.dumps(req) + "\n",
                           capture_output=True, text=True, env=env, timeout=60)
        srv.server_close()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(verify_signature("capture secret", got["ts"], got["sig"],
                                         got["body"]))
        self.assertFalse(verify_signature("wrong", got["ts"], got["sig"],
                                          got["body"]))


if __name__ == "__main__":
    unittest.main()
