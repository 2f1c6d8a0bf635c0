"""Link Loom SDK for Python: a REST client for loom-api and helpers for
writing task handlers (user backends).

    from linkloom import LinkLoomClient

    client = LinkLoomClient("http://127.0.0.1:8080")
    client.apply_workflow(open("daily-report.yaml").read())
    run = client.trigger("daily-report", {"limit": 5})
    done = client.wait(run["executionId"], timeout=120)

Standard library only.  See the README and loom-api(8), loom-exec(8).
"""

from .client import TERMINAL, Event, LinkLoomClient, parse_sse
from .errors import (BadRequest, Conflict, Forbidden, LoomConnectionError,
                     LoomError, NotFound, Unauthorized, Unavailable,
                     Unprocessable, WaitTimeout, error_from_response)
from .handler import (MAX_SKEW, EnvelopeError, Handler, TaskError,
                      TaskRequest, TaskResult, complete, hmac_sha256_hex,
                      make_handler,
                      parse_envelope, run_handler, serve, sign,
                      verify_signature)

__version__ = "0.1.0"

__all__ = [
    "LinkLoomClient", "Event", "TERMINAL", "parse_sse",
    "LoomError", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
    "Conflict", "Unprocessable", "Unavailable", "LoomConnectionError",
    "WaitTimeout", "error_from_response",
    "TaskRequest", "TaskResult", "TaskError", "EnvelopeError", "Handler",
    "parse_envelope", "hmac_sha256_hex", "sign", "verify_signature", "complete",
    "make_handler", "run_handler", "serve", "MAX_SKEW",
]
