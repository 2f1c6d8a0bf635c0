"""The Link Loom REST client (loom-api(8)).

One :class:`LinkLoomClient` talks to one loom-api over TCP
(``http://host:port``) or its Unix socket (``unix:/run/loom/api.sock`` or
``socket_path=``).  Every call opens its own connection, so a client may
be shared between threads.  Error answers raise :class:`~linkloom.LoomError`
subclasses carrying the HTTP status, the API's error code and message.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .errors import LoomConnectionError, LoomError, WaitTimeout, \
    error_from_response

__all__ = ["LinkLoomClient", "Event", "TERMINAL"]

#: The final states of an execution.
TERMINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED"})


class _UnixConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


@dataclass
class Event:
    """One server-sent event: ``id`` (None for ``end``), ``event``
    (``task``, ``run``, ``workflow``, ``log`` or ``end``) and ``data``
    (the parsed JSON)."""

    id: int | None
    event: str
    data: Any


class LinkLoomClient:
    """A client of one loom-api.

    :param base_url: ``http://host:port`` (``https://`` too), or
        ``unix:/path/to/api.sock``; default ``$LOOM_API`` or
        ``http://127.0.0.1:8080``.
    :param token: a bearer token (``loom_...``) sent with every request;
        default ``$LOOM_TOKEN``.
    :param socket_path: connect to this Unix socket instead of the URL's
        host (the URL's path prefix is kept).
    :param timeout: seconds for connecting and for each read (long polls
        and streams add their own wait to it).
    """

    def __init__(self, base_url: str | None = None, token: str | None = None,
                 socket_path: str | None = None,
                 timeout: float = 30.0) -> None:
        base_url = base_url or os.environ.get("LOOM_API") or \
            "http://127.0.0.1:8080"
        if base_url.startswith("unix:"):
            socket_path, base_url = base_url[5:], "http://localhost"
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._scheme, self._netloc = u.scheme, u.netloc
        self._prefix = u.path.rstrip("/")
        self._socket = socket_path
        self.token = token if token is not None else os.environ.get("LOOM_TOKEN")
        self.timeout = timeout

    # ---- transport ----------------------------------------------------

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._socket:
            return _UnixConnection(self._socket, timeout)
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._netloc, timeout=timeout)
        return http.client.HTTPConnection(self._netloc, timeout=timeout)

    def _headers(self, token: str | None, extra: Mapping[str, str] | None
                 ) -> dict[str, str]:
        h = {"Accept": "application/json", "User-Agent": "linkloom-python/0.1"}
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        h.update(extra or {})
        return h

    def _open(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str], timeout: float | None
              ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connection(timeout)
        try:
            conn.request(method, self._prefix + path, body=body,
                         headers=headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise LoomConnectionError(
                f"{method} {path}: {e or type(e).__name__}") from e

    def request(self, method: str, path: str,
                query: Mapping[str, Any] | None = None, body: Any = None,
                *, raw: bytes | None = None, content_type: str | None = None,
                token: str | None = None, timeout: float | None = None) -> Any:
        """Sends one request and returns the parsed JSON answer.

        ``body`` is sent as JSON; ``raw`` as it is, with ``content_type``.
        ``token`` replaces the client's token for this call.  Raises a
        :class:`~linkloom.LoomError` for any status of 400 or more.
        """
        path = _with_query(path, query)
        extra: dict[str, str] = {}
        data = raw
        if raw is None and body is not None:
            data = json.dumps(body).encode()
            extra["Content-Type"] = "application/json"
        elif raw is not None:
            extra["Content-Type"] = content_type or "application/octet-stream"
        conn, resp = self._open(method, path, data,
                                self._headers(token, extra),
                                timeout if timeout is not None else self.timeout)
        try:
            payload = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise LoomConnectionError(f"{method} {path}: {e}") from e
        finally:
            conn.close()
        if resp.status >= 400:
            raise error_from_response(resp.status, payload)
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError as e:
            raise LoomError(resp.status, "bad_answer",
                            f"{method} {path}: answer is not JSON") from e

    # ---- workflows ----------------------------------------------------

    def apply_workflow(self, workflow: str | bytes | Mapping[str, Any] |
                       os.PathLike[str], *, token: str | None = None
                       ) -> dict[str, Any]:
        """Applies (registers or updates) a workflow: YAML or JSON text,
        a dict, or a path (:class:`os.PathLike`) to a workflow file.
        Returns ``{"id", "version", "created"}``; ``created`` is False when
        the spec did not change.  An invalid workflow raises
        :class:`~linkloom.Unprocessable` with every problem in ``details``.
        """
        if isinstance(workflow, os.PathLike):
            return self.apply_workflow_file(workflow, token=token)
        if isinstance(workflow, Mapping):
            return self.request("POST", "/api/v1/workflows", body=dict(workflow),
                                token=token)
        data = workflow.encode() if isinstance(workflow, str) else workflow
        return self.request("POST", "/api/v1/workflows", raw=data,
                            content_type="application/yaml", token=token)

    register_workflow = apply_workflow

    def apply_workflow_file(self, path: str | os.PathLike[str], *,
                            token: str | None = None) -> dict[str, Any]:
        """Applies the workflow file at ``path`` (YAML or JSON)."""
        with open(path, "rb") as f:
            return self.apply_workflow(f.read(), token=token)

    def list_workflows(self) -> list[dict[str, Any]]:
        """Every workflow that is not deleted, as GET /api/v1/workflows."""
        return self.request("GET", "/api/v1/workflows")["workflows"]

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """One workflow with its ``spec`` and ``definition``."""
        return self.request("GET", f"/api/v1/workflows/{_seg(workflow_id)}")

    describe_workflow = get_workflow

    def trigger(self, workflow_id: str, input: Mapping[str, Any] | None = None,
                *, token: str | None = None, force: bool = False
                ) -> dict[str, Any]:
        """Starts a run of the workflow's current version with ``input``
        (its params).  ``token`` authenticates this call alone, e.g. a
        trigger token; ``force`` triggers a paused workflow.  Returns
        ``{"executionId", "workflowId", "workflowVersion", "status"}``.
        A concurrency policy that refuses the run raises
        :class:`~linkloom.Conflict` (code ``concurrency_limit``)."""
        return self.request(
            "POST", f"/api/v1/workflows/{_seg(workflow_id)}/trigger",
            {"force": "true"} if force else None,
            {"input": dict(input or {})}, token=token)

    def pause_workflow(self, workflow_id: str) -> dict[str, Any]:
        """Pauses the workflow: triggers need ``force`` until it is
        unpaused.  Returns the workflow with ``paused`` and ``changed``."""
        return self.request("POST",
                            f"/api/v1/workflows/{_seg(workflow_id)}/pause")

    def unpause_workflow(self, workflow_id: str) -> dict[str, Any]:
        """Clears the workflow's paused flag."""
        return self.request("POST",
                            f"/api/v1/workflows/{_seg(workflow_id)}/unpause")

    # ---- executions ---------------------------------------------------

    def get_execution(self, execution_id: str, *, wait: float | None = None
                      ) -> dict[str, Any]:
        """One run with its ``tasks``.  With ``wait`` (seconds, at most
        300) the answer comes once the run is finished or the time is up
        (the API's long poll)."""
        q = {"wait": f"{int(wait * 1000)}ms"} if wait else None
        return self.request("GET", f"/api/v1/executions/{_seg(execution_id)}",
                            q, timeout=self.timeout + (wait or 0))

    def get_tasks(self, execution_id: str) -> list[dict[str, Any]]:
        """The run's tasks, in topological order, with their attempts."""
        return self.get_execution(execution_id)["tasks"]

    def wait(self, execution_id: str, timeout: float = 300.0) -> dict[str, Any]:
        """Waits for the run to finish (SUCCESS, FAILED or CANCELLED) with
        long polls of at most 30 s, and returns it.  Raises
        :class:`~linkloom.WaitTimeout` (a :class:`TimeoutError`) when it
        has not finished within ``timeout`` seconds.  Against a server that
        answers at once whatever ``?wait`` says, it polls once a second."""
        deadline = time.monotonic() + timeout
        while True:
            t0 = time.monotonic()
            asked = max(0.001, min(deadline - t0, 30.0))
            ex = self.get_execution(execution_id, wait=asked)
            if ex["status"] in TERMINAL:
                return ex
            now = time.monotonic()
            if deadline - now <= 0:
                raise WaitTimeout(ex)
            if now - t0 < asked / 2:
                # a server (or proxy) that ignores ?wait: poll gently
                time.sleep(min(1.0, deadline - now))

    def list_executions_page(self, *, workflow: str | None = None,
                             status: str | None = None, since: str | None = None,
                             until: str | None = None, limit: int | None = None,
                             cursor: str | None = None) -> dict[str, Any]:
        """One page: ``{"executions": [...], "nextCursor": ...}``, newest
        first.  ``since``/``until`` take ISO 8601 or a duration (``2d``)."""
        q = {"workflow": workflow, "status": status, "since": since,
             "until": until, "limit": limit, "cursor": cursor}
        return self.request("GET", "/api/v1/executions", q)

    def list_executions(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every execution matching the filters of
        :meth:`list_executions_page`, following ``nextCursor`` page by page
        (each execution once, even while new ones start).  A server that
        gives the same cursor twice raises LoomError ``bad_cursor`` rather
        than looping."""
        cursor = None
        while True:
            page = self.list_executions_page(cursor=cursor, **filters)
            yield from page["executions"]
            last, cursor = cursor, page.get("nextCursor")
            if not cursor:
                return
            if cursor == last:
                raise LoomError(0, "bad_cursor",
                                "the server gave the same cursor twice")

    def cancel(self, execution_id: str) -> dict[str, Any]:
        """Asks for the run to be cancelled (202); follow it with
        :meth:`wait`.  A finished run raises :class:`~linkloom.Conflict`."""
        return self.request("POST",
                            f"/api/v1/executions/{_seg(execution_id)}/cancel")

    def retry(self, execution_id: str, *, from_failed: bool = True
              ) -> dict[str, Any]:
        """``from_failed``: runs the failed, cancelled and skipped tasks of
        a FAILED or CANCELLED run again in the same run (202, the run with
        its ``request``).  Otherwise starts a new run with the same params
        (201, ``{"executionId", ..., "retryOf"}``)."""
        return self.request("POST",
                            f"/api/v1/executions/{_seg(execution_id)}/retry",
                            body={"fromFailed": from_failed})

    def rerun_task(self, execution_id: str, task_id: str, *,
                   downstream: bool = False) -> dict[str, Any]:
        """Runs one finished task again (and, with ``downstream``, every
        finished task that depends on it)."""
        return self.request(
            "POST", f"/api/v1/executions/{_seg(execution_id)}/tasks/"
            f"{_seg(task_id)}/rerun", body={"downstream": downstream})

    def logs(self, execution_id: str, *, task: str | None = None,
             after: int | None = None, limit: int | None = None
             ) -> dict[str, Any]:
        """One page of output lines: ``{"logs": [...], "next": id|None}``."""
        return self.request("GET", f"/api/v1/executions/{_seg(execution_id)}/logs",
                            {"task": task, "after": after, "limit": limit})

    # ---- dead letters -------------------------------------------------

    def dead_letters(self, *, workflow: str | None = None,
                     execution: str | None = None, all: bool = False,
                     limit: int | None = None) -> list[dict[str, Any]]:
        """Dead letters, newest first; only open ones unless ``all``."""
        q = {"workflow": workflow, "execution": execution,
             "all": "true" if all else None, "limit": limit}
        return self.request("GET", "/api/v1/dead-letters", q)["deadLetters"]

    def get_dead_letter(self, letter_id: int) -> dict[str, Any]:
        """One letter with its ``request``, ``taskState`` and
        ``executionStatus``."""
        return self.request("GET", f"/api/v1/dead-letters/{int(letter_id)}")

    def replay_dead_letter(self, letter_id: int) -> dict[str, Any]:
        """Runs the dead task again with a fresh attempt budget (202)."""
        return self.request("POST",
                            f"/api/v1/dead-letters/{int(letter_id)}/replay")

    def discard_dead_letter(self, letter_id: int) -> dict[str, Any]:
        """Closes the letter without running anything."""
        return self.request("POST",
                            f"/api/v1/dead-letters/{int(letter_id)}/discard")

    # ---- events -------------------------------------------------------

    def events(self, execution_id: str | None = None, *,
               since: int | None = None, last_event_id: int | None = None,
               kinds: list[str] | None = None, task: str | None = None,
               workflow: str | None = None, reconnect: bool = True
               ) -> Iterator[Event]:
        """Server-sent events: one run's events and log lines (ending
        after its ``end`` event) or, without ``execution_id``, every event
        (never ending).  ``since=0`` starts at the beginning;
        ``last_event_id`` resumes after that message.  A lost connection
        is resumed with ``Last-Event-ID`` (nothing lost, nothing
        repeated) unless ``reconnect`` is False."""
        if execution_id is not None:
            path = f"/api/v1/executions/{_seg(execution_id)}/events"
        else:
            path = "/api/v1/events"
        q = {"since": since, "kind": ",".join(kinds) if kinds else None,
             "task": task, "workflow": workflow}
        last = last_event_id
        delay = 0.1
        while True:
            got_any = False
            try:
                for ev in self._stream(_with_query(path, q), last):
                    got_any = True
                    if ev.id is not None:
                        last = ev.id
                    yield ev
                    if ev.event == "end":
                        return
            except LoomConnectionError:
                if not reconnect:
                    raise
            if not reconnect:
                return
            delay = 0.1 if got_any else min(delay * 2, 5.0)
            time.sleep(delay)

    def follow_logs(self, execution_id: str, *, task: str | None = None,
                    since: int = 0) -> Iterator[dict[str, Any]]:
        """The run's output lines as they are written (each a dict with
        ``taskId``, ``attempt``, ``stream``, ``line``, ``ts``), from the
        first (``since=0``) until the run ends."""
        for ev in self.events(execution_id, since=since, kinds=["log"],
                              task=task):
            if ev.event == "log":
                yield ev.data

    def _stream(self, path: str, last: int | None) -> Iterator[Event]:
        extra = {"Accept": "text/event-stream"}
        if last is not None:
            extra["Last-Event-ID"] = str(last)
        # heartbeats come every api.stream_heartbeat (15 s by default)
        conn, resp = self._open("GET", path, None, self._headers(None, extra),
                                max(self.timeout, 120.0))
        try:
            if resp.status >= 400:
                raise error_from_response(resp.status, resp.read())
            yield from parse_sse(resp)
        except (OSError, http.client.HTTPException) as e:
            raise LoomConnectionError(f"GET {path}: {e}") from e
        finally:
            conn.close()

    # ---- async tasks --------------------------------------------------

    def complete(self, callback_url: str, result: Any) -> dict[str, Any]:
        """Posts an asynchronous task's result to its callback URL; see
        :func:`linkloom.complete`."""
        from .handler import complete
        return complete(callback_url, result, timeout=self.timeout)


def parse_sse(lines: Any) -> Iterator[Event]:
    """Reads server-sent events from an iterable of byte lines (a
    response).  Comments and ``retry:`` are skipped; a message is yielded
    at its blank line.  Raises LoomConnectionError when the stream stops
    in the middle of a message."""
    ev_id: int | None = None
    name, data = "message", []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except ValueError:
                    payload = text
                yield Event(ev_id, name, payload)
            ev_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "id":
            ev_id = int(value) if value.isdigit() else None
        elif key == "event":
            name = value
        elif key == "data":
            data.append(value)
    if data:
        raise LoomConnectionError("event stream ended inside a message")


def _seg(s: str) -> str:
    return urllib.parse.quote(str(s), safe="")


def _with_query(path: str, query: Mapping[str, Any] | None) -> str:
    if not query:
        return path
    q = {k: str(v) for k, v in query.items() if v is not None}
    return f"{path}?{urllib.parse.urlencode(q)}" if q else path
