"""Unit tests: envelope parsing, results, signatures (RFC 4231 vectors and
a signature loom-exec made), the handler mounted on http.server."""

import http.client
import json
import os
import unittest
from datetime import datetime, timezone

from linkloom import (EnvelopeError, TaskError, TaskRequest, TaskResult,
                      hmac_sha256_hex, parse_envelope, run_handler, serve,
                      sign, verify_signature)

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "..", "testdata")


def testdata(name):
    with open(os.path.join(TESTDATA, name)) as f:
        return json.load(f)


class EnvelopeTest(unittest.TestCase):
    def test_full_envelope(self):
        body = json.dumps({
            "executionId": "exec-1", "taskId": "fetch_data",
            "input": {"date": "2024-01-14"}, "attempt": 2, "timeout": 300000,
            "callbackUrl": "http://loom:8080/api/v1/callbacks/tok",
            "scheduledTime": "2026-12-07T03:00:00Z"}).encode()
        r = parse_envelope(body, {"idempotency-key": "exec-1/fetch_data/2"})
        self.assertEqual(r.execution_id, "exec-1")
        self.assertEqual(r.task_id, "fetch_data")
        self.assertEqual(r.input, {"date": "2024-01-14"})
        self.assertEqual(r.attempt, 2)
        self.assertEqual(r.timeout_ms, 300000)
        self.assertEqual(r.callback_url, "http://loom:8080/api/v1/callbacks/tok")
        self.assertEqual(r.scheduled_time,
                         datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc))
        self.assertEqual(r.idempotency_key, "exec-1/fetch_data/2")

    def test_defaults_and_optional_keys(self):
        r = parse_envelope('{"executionId":"e","taskId":"t"}')
        self.assertEqual((r.attempt, r.input, r.timeout_ms, r.callback_url,
                          r.scheduled_time), (1, {}, None, None, None))
        self.assertEqual(r.idempotency_key, "e/t/1")

    def test_bad_envelopes(self):
        for body in (b"", b"not json", b"[1]", b'{"taskId":"t"}',
                     b'{"executionId":"e","taskId":""}',
                     b'{"executionId":"e","taskId":"t","attempt":0}',
                     b'{"executionId":"e","taskId":"t","attempt":"1"}',
                     b'{"executionId":"e","taskId":"t","timeout":"5m"}',
                     b'{"executionId":"e","taskId":"t","scheduledTime":"x"}'):
            with self.subTest(body=body), self.assertRaises(EnvelopeError):
                parse_envelope(body)


class ResultTest(unittest.TestCase):
    def test_success_failed_accepted(self):
        self.assertEqual(TaskResult.success({"n": 1}, "did it").to_dict(),
                         {"status": "SUCCESS", "output": {"n": 1},
                          "logs": "did it"})
        self.assertEqual(
            TaskResult.failed("ValidationException", "bad limit").to_dict(),
            {"status": "FAILED", "output": None, "logs": "bad limit",
             "error": {"type": "ValidationException", "message": "bad limit"}})
        self.assertEqual(TaskResult.accepted().to_dict(), {"status": "RUNNING"})

    def test_run_handler(self):
        req = parse_envelope('{"executionId":"e","taskId":"t"}')

        def raises_task_error(_):
            raise TaskError("ValidationException", "no")

        def raises_bug(_):
            raise KeyError("x")
        st, body = run_handler(raises_task_error, req)
        self.assertEqual((st, body["status"], body["error"]["type"]),
                         (200, "FAILED", "ValidationException"))
        st, body = run_handler(raises_bug, req)
        self.assertEqual(body["error"]["type"], "TaskFailedException")
        self.assertIn("KeyError", body["error"]["message"])
        st, body = run_handler(lambda r: None, req)
        self.assertEqual((st, body["status"], body["output"]),
                         (200, "SUCCESS", None))
        self.assertIn("duration", body)
        st, body = run_handler(lambda r: TaskResult.accepted(), req)
        self.assertEqual((st, body), (202, {"status": "RUNNING"}))
        st, body = run_handler(lambda r: {"status": "SUCCESS", "output": 3}, req)
        self.assertEqual((st, body), (200, {"status": "SUCCESS", "output": 3}))


class SignatureTest(unittest.TestCase):
    def test_rfc4231_vectors(self):
        for v in testdata("rfc4231.json")["vectors"]:
            with self.subTest(case=v["case"]):
                self.assertEqual(hmac_sha256_hex(bytes.fromhex(v["key"]),
                                                 bytes.fromhex(v["data"])),
                                 v["mac"])

    def test_sign_is_hmac_of_timestamp_dot_body(self):
        self.assertEqual(sign("Jefe", 1764130000, b"{}"),
                         "v1=" + hmac_sha256_hex(b"Jefe", b"1764130000.{}"))

    def test_signature_made_by_loom_exec(self):
        f = testdata("loom-exec-signature.json")
        ts = int(f["timestamp"])
        body = f["body"].encode()
        self.assertTrue(verify_signature(f["secret"], f["timestamp"],
                                         f["signature"], body, now=ts + 10))
        self.assertTrue(verify_signature(f["secret"], f["timestamp"],
                                         f["signature"], body, max_skew=None))
        # the replay window, both ways
        self.assertFalse(verify_signature(f["secret"], f["timestamp"],
                                          f["signature"], body, now=ts + 301))
        self.assertFalse(verify_signature(f["secret"], f["timestamp"],
                                          f["signature"], body, now=ts - 301))
        # any change is refused
        self.assertFalse(verify_signature("other", f["timestamp"],
                                          f["signature"], body, now=ts))
        self.assertFalse(verify_signature(f["secret"], f["timestamp"],
                                          f["signature"], body + b" ", now=ts))
        self.assertFalse(verify_signature(f["secret"], str(ts + 1),
                                          f["signature"], body, now=ts))
        self.assertFalse(verify_signature(f["secret"], f["timestamp"],
                                          f["signature"].upper(), body, now=ts))
        req = parse_envelope(body, {"Idempotency-Key": f["idempotencyKey"]})
        self.assertEqual(req.idempotency_key, "exec-sdk-fixture/fetch_data/1")

    def test_malformed_headers(self):
        for ts, sig in ((None, "v1=00"), ("12", None), ("", "v1="),
                        ("-5", "v1=00"), ("1e9", "v1=00"), ("١٢", "v1=00")):
            with self.subTest(ts=ts, sig=sig):
                self.assertFalse(verify_signature("k", ts, sig, b"",
                                                  max_skew=None))


class ServeTest(unittest.TestCase):
    """The handler mounted on a real http.server, called over a socket."""

    def setUp(self):
        def hello(req: TaskRequest):
            return TaskResult.success({"hi": req.input.get("name")}, "said hi")
        self.server = serve({"/hello": hello}, port=0, secret="s3cret")
        import threading
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def post(self, path, body, headers):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        out = (r.status, json.loads(r.read()))
        c.close()
        return out

    def test_signed_unsigned_and_bad(self):
        import time
        body = b'{"executionId":"e","taskId":"t","input":{"name":"loom"}}'
        ts = str(int(time.time()))
        good = {"X-Loom-Timestamp": ts,
                "X-Loom-Signature": sign("s3cret", ts, body)}
        st, ans = self.post("/hello", body, good)
        self.assertEqual((st, ans["status"], ans["output"]),
                         (200, "SUCCESS", {"hi": "loom"}))
        st, ans = self.post("/hello", body, {})
        self.assertEqual((st, ans["error"]["type"]), (401, "HttpClientError"))
        st, ans = self.post("/hello", body + b" ", good)
        self.assertEqual(st, 401)
        st, ans = self.post("/nosuch", body, good)
        self.assertEqual(st, 404)
        bad = b"[]"
        st, ans = self.post("/hello", bad, {
            "X-Loom-Timestamp": ts, "X-Loom-Signature": sign("s3cret", ts, bad)})
        self.assertEqual((st, ans["error"]["type"]), (400, "ValidationException"))


class EmptySecretTest(unittest.TestCase):
    def test_an_empty_secret_checks_nothing(self):
        import threading
        server = serve({"/t": lambda r: TaskResult.success(1)}, port=0, secret="")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            c = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            c.request("POST", "/t", body=b'{"executionId":"e","taskId":"t"}')
            r = c.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["output"]), (200, 1))
            c.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main()
