"""Unit tests of the client that need no server: error mapping and the
server-sent event parser."""

import io
import unittest

from linkloom import (BadRequest, Conflict, LinkLoomClient, LoomError,
                      NotFound, Unauthorized, Unprocessable, Unavailable,
                      error_from_response, parse_sse)
from linkloom.errors import LoomConnectionError


class ErrorMappingTest(unittest.TestCase):
    def test_api_error_shape(self):
        e = error_from_response(404, b'{"error":{"code":"not_found",'
                                b'"message":"no workflow \'x\'","field":"id"}}')
        self.assertIsInstance(e, NotFound)
        self.assertEqual((e.status, e.code, e.message, e.field),
                         (404, "not_found", "no workflow 'x'", "id"))
        self.assertIn("404 not_found", str(e))

    def test_classes_by_status(self):
        body = b'{"error":{"code":"c","message":"m","field":null}}'
        for status, cls in ((400, BadRequest), (401, Unauthorized),
                            (409, Conflict), (422, Unprocessable),
                            (503, Unavailable), (500, LoomError)):
            with self.subTest(status=status):
                e = error_from_response(status, body)
                self.assertIs(type(e), cls)
                self.assertEqual(e.code, "c")

    def test_details_and_concurrency_limit(self):
        e = error_from_response(422, b'{"error":{"code":"invalid_workflow",'
                                b'"message":"2 errors","field":null,'
                                b'"details":[{"line":7},{"line":11}]}}')
        self.assertEqual(len(e.details), 2)
        e = error_from_response(409, b'{"error":{"code":"concurrency_limit",'
                                b'"message":"a run is live","field":null}}')
        self.assertIsInstance(e, Conflict)
        self.assertEqual(e.code, "concurrency_limit")

    def test_not_the_api_shape(self):
        e = error_from_response(400, b"<html>Bad Request</html>")
        self.assertEqual((e.code, e.message), ("http_400", "<html>Bad Request</html>"))
        e = error_from_response(502, b"")
        self.assertEqual(e.message, "HTTP 502")

    def test_connection_refused(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        with self.assertRaises(LoomConnectionError) as cm:
            LinkLoomClient(f"http://127.0.0.1:{port}").list_workflows()
        self.assertEqual(cm.exception.status, 0)

    def test_urls(self):
        with self.assertRaises(ValueError):
            LinkLoomClient("ftp://x")
        c = LinkLoomClient("unix:/run/loom/api.sock")
        self.assertEqual(c._socket, "/run/loom/api.sock")


class SseTest(unittest.TestCase):
    def test_messages_comments_and_end(self):
        text = (b"retry: 2000\n: link loom event stream\n\n"
                b"id: 41\nevent: task\ndata: {\"id\":41,\"to\":\"RUNNING\"}\n\n"
                b": ping\n\n"
                b"id: 42\r\nevent: log\r\ndata: {\"line\":\"a\"}\r\n\r\n"
                b"event: end\ndata: {\"status\":\"SUCCESS\"}\n\n")
        evs = list(parse_sse(io.BytesIO(text)))
        self.assertEqual([(e.id, e.event) for e in evs],
                         [(41, "task"), (42, "log"), (None, "end")])
        self.assertEqual(evs[1].data, {"line": "a"})
        self.assertEqual(evs[2].data["status"], "SUCCESS")

    def test_cut_in_the_middle(self):
        with self.assertRaises(LoomConnectionError):
            list(parse_sse(io.BytesIO(b"id: 1\nevent: task\ndata: {}\n")))


class MisbehavingServerTest(unittest.TestCase):
    """A server that ignores ?wait and gives one cursor forever: the
    client polls gently and stops instead of spinning."""

    def setUp(self):
        import http.server
        import json
        import threading
        calls = self.calls = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                calls.append(self.path)
                if self.path.startswith("/api/v1/executions?"):
                    body = {"executions": [{"id": f"exec-{len(calls)}"}],
                            "nextCursor": "same"}
                else:
                    body = {"id": "exec-1", "status": "RUNNING", "tasks": []}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.client = LinkLoomClient(f"http://127.0.0.1:{self.server.server_address[1]}")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_wait_against_a_server_that_ignores_wait(self):
        from linkloom import WaitTimeout
        with self.assertRaises(WaitTimeout):
            self.client.wait("exec-1", timeout=2.5)
        self.assertLessEqual(len(self.calls), 5)
        self.assertIn("wait=", self.calls[0])

    def test_a_cursor_given_twice(self):
        with self.assertRaises(LoomError) as cm:
            list(self.client.list_executions(limit=1))
        self.assertEqual(cm.exception.code, "bad_cursor")
        self.assertEqual(len(self.calls), 2)


if __name__ == "__main__":
    unittest.main()
