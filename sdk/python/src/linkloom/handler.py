"""Task handlers: the backend side of Link Loom's callback protocol.

loom-exec(8) POSTs one envelope per task attempt::

    {"executionId": "exec-...", "taskId": "fetch_data", "input": {...},
     "attempt": 1, "timeout": 300000,
     "callbackUrl": "http://loom:8080/api/v1/callbacks/<token>",
     "scheduledTime": "2026-12-07T03:00:00Z"}

with ``Idempotency-Key: <executionId>/<taskId>/<attempt>`` and, when the
workflow has ``signing:``, ``X-Loom-Timestamp`` and ``X-Loom-Signature``
(``v1=`` and the hex HMAC-SHA256 of ``"<timestamp>.<raw body>"``).  The
backend answers with a result (:class:`TaskResult`), or 202 and posts the
result to ``callbackUrl`` later (:func:`complete`).

:func:`serve` and :func:`make_handler` mount handler functions on the
standard library's HTTP server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Union

__all__ = [
    "TaskRequest", "TaskResult", "TaskError", "EnvelopeError",
    "parse_envelope", "hmac_sha256_hex", "sign", "verify_signature", "complete",
    "make_handler", "serve", "Handler", "MAX_SKEW",
]

#: The replay window loom-workflow(5) advises, in seconds.
MAX_SKEW = 300

log = logging.getLogger("linkloom")


class EnvelopeError(ValueError):
    """The request body is not a valid callback envelope."""


class TaskError(Exception):
    """Raise in a handler to fail the task with an error type of
    loom-exec(8) ERROR CLASSES, e.g.
    ``raise TaskError("ValidationException", "limit must be positive")``;
    ``retryOn``/``dontRetryOn`` of the workflow match on the type."""

    def __init__(self, error_type: str, message: str,
                 output: Any = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.output = output


@dataclass
class TaskRequest:
    """One parsed callback envelope.

    ``timeout_ms`` is the task timeout in milliseconds; ``callback_url``
    is where an asynchronous result goes (None without one);
    ``scheduled_time`` is when a schedule or backfill meant the run to
    start (None for other triggers); ``idempotency_key`` is the header's
    value, else ``executionId/taskId/attempt``.
    """

    execution_id: str
    task_id: str
    input: Any
    attempt: int
    timeout_ms: int | None
    idempotency_key: str
    callback_url: str | None = None
    scheduled_time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def complete(self, result: "TaskResult | Mapping[str, Any]") -> None:
        """Posts ``result`` to this request's callback URL (after the
        handler answered :meth:`TaskResult.accepted`)."""
        if not self.callback_url:
            raise ValueError("the request has no callbackUrl "
                             "(exec.callback_url is not set)")
        complete(self.callback_url, result)


def parse_envelope(body: bytes | str | Mapping[str, Any],
                   headers: Mapping[str, str] | None = None) -> TaskRequest:
    """Parses a callback envelope (raw body or dict).  ``executionId`` and
    ``taskId`` are required; ``attempt`` defaults to 1, ``input`` to {}.
    Raises :class:`EnvelopeError` when the body is not such an object."""
    if isinstance(body, Mapping):
        env = dict(body)
    else:
        try:
            env = json.loads(body or b"")
        except ValueError as e:
            raise EnvelopeError(f"the body is not JSON: {e}") from e
    if not isinstance(env, dict):
        raise EnvelopeError("the body is not a JSON object")
    ex, task = env.get("executionId"), env.get("taskId")
    if not isinstance(ex, str) or not ex or not isinstance(task, str) or not task:
        raise EnvelopeError("executionId and taskId must be non-empty strings")
    attempt = env.get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise EnvelopeError("attempt must be a whole number from 1")
    timeout = env.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float))
                                or isinstance(timeout, bool)):
        raise EnvelopeError("timeout must be a number of milliseconds")
    sched = env.get("scheduledTime")
    when = None
    if sched is not None:
        try:
            when = datetime.fromisoformat(str(sched).replace("Z", "+00:00"))
        except ValueError as e:
            raise EnvelopeError(f"scheduledTime is not RFC 3339: {sched!r}") from e
    key = None
    for k, v in (headers or {}).items():
        if k.lower() == "idempotency-key":
            key = v
    cb = env.get("callbackUrl")
    return TaskRequest(
        execution_id=ex, task_id=task, input=env.get("input", {}),
        attempt=attempt, timeout_ms=int(timeout) if timeout is not None else None,
        idempotency_key=key or f"{ex}/{task}/{attempt}",
        callback_url=cb if isinstance(cb, str) and cb else None,
        scheduled_time=when, raw=env)


@dataclass
class TaskResult:
    """A task's result as the callback protocol has it.  Build one with
    :meth:`success`, :meth:`failed` or :meth:`accepted`."""

    status: str
    output: Any = None
    logs: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None

    @classmethod
    def success(cls, output: Any = None, logs: str | None = None,
                duration_ms: int | None = None) -> "TaskResult":
        """SUCCESS with ``output`` (any JSON value) and ``logs`` (text;
        each line becomes a log line of the attempt)."""
        return cls("SUCCESS", output, logs, duration_ms=duration_ms)

    @classmethod
    def failed(cls, error_type: str, message: str, logs: str | None = None,
               output: Any = None) -> "TaskResult":
        """FAILED with an error type (``ValidationException``,
        ``TaskFailedException``, ...) and message."""
        return cls("FAILED", output, logs if logs is not None else message,
                   error_type, message)

    @classmethod
    def accepted(cls) -> "TaskResult":
        """The task goes on asynchronously: the answer is 202 and the
        result is posted later with :func:`complete`."""
        return cls("RUNNING")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the protocol."""
        d: dict[str, Any] = {"status": self.status}
        if self.status != "RUNNING":
            d["output"] = self.output
        if self.logs is not None:
            d["logs"] = self.logs
        if self.status == "FAILED":
            d["error"] = {"type": self.error_type or "TaskFailedException",
                          "message": self.error_message or ""}
        if self.duration_ms is not None:
            d["duration"] = self.duration_ms
        return d


def hmac_sha256_hex(key: bytes, data: bytes) -> str:
    """The hex HMAC-SHA256 of ``data`` under ``key`` (RFC 2104, 4231)."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, timestamp: str | int, body: bytes | str) -> str:
    """The ``X-Loom-Signature`` value for ``body`` sent at ``timestamp``
    (Unix seconds, as written in ``X-Loom-Timestamp``): ``v1=`` and the hex
    HMAC-SHA256 under ``secret`` of ``"<timestamp>.<body>"``."""
    key = secret.encode() if isinstance(secret, str) else secret
    data = body.encode() if isinstance(body, str) else body
    return "v1=" + hmac_sha256_hex(key, str(timestamp).encode() + b"." + data)


def verify_signature(secret: str | bytes, timestamp: str | None,
                     signature: str | None, body: bytes | str, *,
                     now: float | None = None,
                     max_skew: float | None = MAX_SKEW) -> bool:
    """True when ``signature`` is the signature of the raw ``body`` at
    ``timestamp`` and the timestamp is within ``max_skew`` seconds of
    ``now`` (the replay window; None turns the check off).  The
    comparison is constant-time; the timestamp is MACed as written."""
    if not timestamp or not signature or not timestamp.isascii() or \
            not timestamp.isdigit() or len(timestamp) > 20:
        return False
    if max_skew is not None:
        t = time.time() if now is None else now
        if abs(t - int(timestamp)) > max_skew:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(),
                               signature.encode("utf-8", "replace"))


def complete(callback_url: str, result: TaskResult | Mapping[str, Any], *,
             timeout: float = 30.0) -> dict[str, Any]:
    """Posts an asynchronous task's final result (SUCCESS or FAILED) to
    the ``callbackUrl`` of its envelope.  Returns ``{"accepted": true}``;
    raises :class:`~linkloom.LoomError` (404 unknown token, 409 the task
    no longer waits: it timed out, was cancelled or completed already)."""
    from .errors import LoomConnectionError, error_from_response
    body = result.to_dict() if isinstance(result, TaskResult) else dict(result)
    req = urllib.request.Request(
        callback_url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read()
    except urllib.error.HTTPError as e:
        raise error_from_response(e.code, e.read()) from None
    except OSError as e:
        raise LoomConnectionError(f"callback: {e}") from e
    return json.loads(data) if data else {}


#: A handler function: takes the request, returns a TaskResult, a dict
#: (sent as it is), or None (SUCCESS with null output); raises TaskError.
Handler = Callable[[TaskRequest], Union[TaskResult, Mapping[str, Any], None]]


def run_handler(fn: Handler, req: TaskRequest) -> tuple[int, dict[str, Any]]:
    """Calls ``fn`` and returns the HTTP status and JSON answer: 202 for
    an accepted task, else 200 with the result.  A TaskError becomes
    FAILED with its type; any other exception FAILED
    TaskFailedException."""
    t0 = time.monotonic()
    try:
        res = fn(req)
    except TaskError as e:
        res = TaskResult.failed(e.error_type, e.message, output=e.output)
    except Exception as e:  # the backend's bug is the task's failure
        log.warning("task %s failed: %s", req.idempotency_key,
                    traceback.format_exc())
        res = TaskResult.failed("TaskFailedException",
                                f"{type(e).__name__}: {e}")
    if res is None:
        res = TaskResult.success()
    if isinstance(res, TaskResult):
        if res.status == "RUNNING":
            return 202, res.to_dict()
        if res.duration_ms is None:
            res.duration_ms = int((time.monotonic() - t0) * 1000)
        return 200, res.to_dict()
    d = dict(res)
    return (202 if d.get("status") == "RUNNING" else 200), d


def make_handler(routes: Mapping[str, Handler], *,
                 secret: str | bytes | None = None,
                 max_skew: float | None = MAX_SKEW
                 ) -> type[BaseHTTPRequestHandler]:
    """A :class:`BaseHTTPRequestHandler` class serving ``routes`` (path
    to handler function) with POST.  With a ``secret`` (not empty) every
    request must carry a valid signature within ``max_skew`` seconds, else
    it is answered 401 (an HttpClientError, not retried); an empty or no
    secret checks nothing.  A body that is not an envelope is answered 400
    (ValidationException); an unknown path 404.
    ``GET /healthz`` answers 200."""
    table = dict(routes)

    class _TaskHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, etype: str, msg: str) -> None:
            self._answer(status, {"status": "FAILED", "error": {
                "type": etype, "message": msg}})

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            else:
                self._error(404, "ResourceNotFoundException", "no such path")

        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            fn = table.get(self.path.split("?", 1)[0])
            if fn is None:
                self._error(404, "ResourceNotFoundException",
                            f"no task at {self.path}")
                return
            if secret and not verify_signature(
                    secret, self.headers.get("X-Loom-Timestamp"),
                    self.headers.get("X-Loom-Signature"), body,
                    max_skew=max_skew):
                self._error(401, "HttpClientError", "bad or missing signature")
                return
            try:
                req = parse_envelope(body, dict(self.headers.items()))
            except EnvelopeError as e:
                self._error(400, "ValidationException", str(e))
                return
            status, answer = run_handler(fn, req)
            self._answer(status, answer)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return _TaskHandler


def serve(routes: Mapping[str, Handler], host: str = "127.0.0.1",
          port: int = 8090, *, secret: str | bytes | None = None,
          max_skew: float | None = MAX_SKEW) -> ThreadingHTTPServer:
    """A threading HTTP server for ``routes`` (see :func:`make_handler`),
    bound but not yet serving: call ``serve_forever()`` (port 0 picks a
    free port: read ``server_address``)."""
    server = ThreadingHTTPServer((host, port),
                                 make_handler(routes, secret=secret,
                                              max_skew=max_skew))
    server.daemon_threads = True
    return server
