#!/usr/bin/env python3
"""The seed's user backend written with the Link Loom Python SDK: the four
tasks of the daily report (fetch_data, validate, process, send_email),
like contrib/examples/backend/example-backend.c.

    python3 seed_backend.py [-a ADDR] [-p PORT]      (127.0.0.1:8090)

With LOOM_SDK_SIGNING_SECRET set, every request must be signed with it
(the workflow's ``signing: {secretEnv: ...}``).  send_email with
``input.async`` true answers 202 and mails from a thread, then posts the
result to the callback URL.  fetch_data fails with HttpServerError (which
the seed workflow retries) while the attempt is at most
``input.failAttempts``.  The first stdout line is ``port N``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from linkloom import TaskError, TaskRequest, TaskResult, serve  # noqa: E402


def fnv1a(s: str) -> str:
    """FNV-1a, 64 bits: a stable "checksum" for made-up records."""
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def number(inp: Any, key: str, default: float) -> float:
    """A number from the input: a JSON number or a numeric string."""
    v = inp.get(key) if isinstance(inp, dict) else None
    try:
        return float(v) if v is not None and not isinstance(v, bool) else default
    except ValueError:
        return default


def fetch_data(req: TaskRequest) -> TaskResult:
    if req.attempt <= number(req.input, "failAttempts", 0):
        # an error type the workflow's retryOn names: the task is retried
        raise TaskError("HttpServerError", "temporarily unavailable (failAttempts)")
    limit = number(req.input, "limit", 100)
    if not 0 <= limit <= 1e6:
        raise TaskError("ValidationException",
                        "limit must be between 0 and 1000000")
    date = str(req.input.get("date", "today"))
    n = int(limit)
    return TaskResult.success({"recordCount": n,
                               "checksum": fnv1a(f"{date}/{n}")},
                              f"Fetched {n} records for {date}")


def validate(req: TaskRequest) -> TaskResult:
    n = number(req.input, "recordCount", -1)
    checksum = str(req.input.get("checksum", ""))
    if n < 0:
        raise TaskError("ValidationException", "no recordCount in the input")
    if len(checksum) != 16 or any(c not in "0123456789abcdef" for c in checksum):
        raise TaskError("ValidationException",
                        "the checksum is not 16 hex digits")
    return TaskResult.success({"valid": True, "recordCount": int(n)},
                              f"Validated {int(n)} records (checksum {checksum})")


class SeedBackend:
    """The four task routes; ``base_url`` (set once the port is bound) is
    used in report links."""

    def __init__(self, base_url: str = "http://127.0.0.1:8090") -> None:
        self.base_url = base_url
        #: idempotency keys of the asynchronous tasks completed through
        #: their callback URL
        self.called_back: list[str] = []

    def routes(self) -> dict[str, Any]:
        return {"/api/tasks/fetch-data": fetch_data,
                "/api/tasks/validate": validate,
                "/api/tasks/process": self.process,
                "/api/tasks/send-email": self.send_email}

    def process(self, req: TaskRequest) -> TaskResult:
        n = int(number(req.input, "recordCount", 0))
        title = str(req.input.get("title", "Report"))
        return TaskResult.success(
            {"processed": n, "title": title,
             "reportUrl": f"{self.base_url}/reports/{req.execution_id}.csv"},
            f"Processed {n} records")

    @staticmethod
    def mail(req: TaskRequest) -> TaskResult:
        to = str(req.input.get("to", "team@example.com"))
        subject = str(req.input.get("subject", "Report"))
        return TaskResult.success(
            {"sent": True, "to": to,
             "messageId": f"<{req.execution_id}@loom.example>"},
            f'Sent "{subject}" to {to}')

    def send_email(self, req: TaskRequest) -> TaskResult:
        if req.input.get("async") and req.callback_url:
            # answer 202 now, mail and call back from a thread
            def finish() -> None:
                req.complete(self.mail(req))
                self.called_back.append(req.idempotency_key)
            threading.Thread(target=finish, daemon=True).start()
            return TaskResult.accepted()
        return self.mail(req)


def start(host: str = "127.0.0.1", port: int = 8090,
          secret: str | None = None):
    """Binds the backend (port 0: any free port) and serves it from a
    thread; returns the server (``server_address`` has the port)."""
    backend = SeedBackend()
    server = serve(backend.routes(), host, port, secret=secret)
    backend.base_url = f"http://{host}:{server.server_address[1]}"
    server.backend = backend  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-a", default="127.0.0.1", help="address to listen on")
    ap.add_argument("-p", type=int, default=8090, help="port (0: any)")
    args = ap.parse_args()
    server = start(args.a, args.p, os.environ.get("LOOM_SDK_SIGNING_SECRET"))
    print(f"port {server.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
