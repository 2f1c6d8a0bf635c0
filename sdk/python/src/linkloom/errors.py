"""Errors of the Link Loom SDK.

Every error answer of loom-api has one shape (loom-api(8), ERROR
RESPONSES)::

    {"error": {"code": "not_found", "message": "no workflow 'x'",
               "field": "id"}}

:class:`LoomError` carries the HTTP status and those members; a subclass
per status lets callers catch what they expect (``except NotFound``).
"""

from __future__ import annotations

import json
from typing import Any


class LoomError(Exception):
    """An error answer of the API, or a failure to reach it.

    ``status`` is the HTTP status (0 when no answer came), ``code`` the
    API's error code (``not_found``, ``conflict``, ``invalid_workflow``,
    ...), ``message`` its message, ``field`` the offending part of the
    request or None, ``details`` the list of problems for
    ``invalid_workflow`` (else None).
    """

    def __init__(self, status: int, code: str, message: str,
                 field: str | None = None, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}" if status else message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details


class BadRequest(LoomError):
    """400: a malformed request (bad_request, invalid_json)."""


class Unauthorized(LoomError):
    """401: no bearer token, or not a valid one."""


class Forbidden(LoomError):
    """403: the token's scope is too low for the route."""


class NotFound(LoomError):
    """404: no such route, workflow, execution, letter or callback."""


class Conflict(LoomError):
    """409: not in a state that allows the request (a paused workflow,
    a finished execution, a resolved dead letter, a concurrency limit)."""


class Unprocessable(LoomError):
    """422: invalid_workflow or invalid_input."""


class Unavailable(LoomError):
    """503: the database cannot be reached, or a limit was hit."""


class LoomConnectionError(LoomError):
    """No answer: the connection failed or broke (status 0)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection", message)


class WaitTimeout(LoomError, TimeoutError):
    """:meth:`LinkLoomClient.wait` ran out of time; ``execution`` is the
    run as it was last seen."""

    def __init__(self, execution: dict[str, Any]) -> None:
        super().__init__(0, "timeout",
                         f"execution {execution.get('id')} is still "
                         f"{execution.get('status')}")
        self.execution = execution


_BY_STATUS: dict[int, type[LoomError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
    409: Conflict, 422: Unprocessable, 503: Unavailable,
}


def error_from_response(status: int, body: bytes | str) -> LoomError:
    """The exception for an error answer: its class by status, its code,
    message, field and details from the JSON body when there is one (a
    body that is not the API's shape keeps its first 200 characters as
    the message, with the code ``http_<status>``)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    cls = _BY_STATUS.get(status, LoomError)
    try:
        err = json.loads(text)["error"]
        if isinstance(err, dict):
            return cls(status, str(err.get("code", f"http_{status}")),
                       str(err.get("message", "")), err.get("field"),
                       err.get("details"))
        if isinstance(err, str):
            return cls(status, f"http_{status}", err)
    except (ValueError, KeyError, TypeError):
        pass
    return cls(status, f"http_{status}", text.strip()[:200] or f"HTTP {status}")
