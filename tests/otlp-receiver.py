#!/usr/bin/env python3
"""otlp-receiver: a small OTLP/HTTP JSON trace receiver for Link Loom's tests.

    otlp-receiver.py SPANS.jsonl [--blackhole]

Listens on 127.0.0.1, a port the kernel picks, and prints "port N" on its
first stdout line.  Every POST /v1/traces body is checked to be JSON and
each span in it is appended to SPANS.jsonl as one line
{"resource":{attributes as k: v},"span":{...the span...}}; the answer is
200 {}.  With --blackhole it listens but never accepts a connection: a
collector that is up and never answers.
"""
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

out_path = sys.argv[1]
lock = threading.Lock()


def flat(attrs):
    d = {}
    for a in attrs or []:
        v = a.get("value", {})
        d[a["key"]] = next(iter(v.values())) if v else None
    return d


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        try:
            req = json.loads(body)
            ok = self.path == "/v1/traces" and \
                self.headers.get("Content-Type") == "application/json"
        except ValueError:
            ok = False
        if not ok:
            self.send_response(400)
            self.end_headers()
            return
        with lock, open(out_path, "a") as f:
            for rs in req.get("resourceSpans", []):
                res = flat(rs.get("resource", {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    for sp in ss.get("spans", []):
                        sp["attributes"] = flat(sp.get("attributes"))
                        f.write(json.dumps({"resource": res, "span": sp}) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


if len(sys.argv) > 2 and sys.argv[2] == "--blackhole":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    print("port", s.getsockname()[1], flush=True)
    threading.Event().wait()  # until killed; connections stay unanswered
else:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("port", srv.server_address[1], flush=True)
    srv.serve_forever()
