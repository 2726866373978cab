"""Requests and replies as the emulator's HubSpot logic sees them, and HubSpot's error bodies."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from target_hubspot_contacts.emulator.properties import format_timestamp

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("Invalid input", "VALIDATION_ERROR"),
    401: (AUTH_MESSAGE, "INVALID_AUTHENTICATION"),
    403: (SCOPES_MESSAGE, "MISSING_SCOPES"),
    404: ("Resource not found", "OBJECT_NOT_FOUND"),
    409: ("Conflict with the current state of the object", "CONFLICT"),
    423: ("The object is locked by another request; retry after at least 2 seconds.", "LOCKED"),
    477: ("Migration in progress; retry the request later.", "MIGRATION_IN_PROGRESS"),
    500: ("internal error", "INTERNAL_ERROR"),
    502: ("Bad Gateway", "BAD_GATEWAY"),
    503: ("Service Unavailable", "SERVICE_UNAVAILABLE"),
    504: ("Gateway Timeout", "GATEWAY_TIMEOUT"),
}


@dataclass
class Reply:
    """An HTTP answer: status, JSON body (None = empty) and extra headers; or, with `raw`, that
    body as is with its own content type (a proxy's web page, say)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=utf-8"


@dataclass
class ApiRequest:
    """An HTTP request reduced to what the HubSpot logic needs."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    form: bool = False
    body_error: str | None = None
    size: int = 0  # bytes in the body

    @classmethod
    def parse(cls, method: str, target: str, headers: dict[str, str], raw: bytes) -> ApiRequest:
        """Split the target into path and query and decode the body (JSON or form)."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        request = cls(method, path, dict(parse_qsl(url.query, keep_blank_values=True)), headers)
        request.size = len(raw)
        if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            request.form = True
            request.body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            return request
        request.body, request.body_error = parse_json(raw)
        return request


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    """The decoded JSON body, or None and HubSpot's message for bad JSON."""
    prefix = "Invalid input JSON on line"
    if not raw.strip():
        return None, f"{prefix} 1, column 1: No content to map due to end-of-input"
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, f"{prefix} 1, column 1: Invalid UTF-8 start byte"
    except json.JSONDecodeError as exc:
        return None, f"{prefix} {exc.lineno}, column {exc.colno}: {exc.msg}"


def timestamp() -> str:
    """Now, formatted as HubSpot formats timestamps."""
    return format_timestamp(datetime.now(timezone.utc))


def error_reply(status: int, message: str, category: str, **extra: Any) -> Reply:
    """A request-level HubSpot error body (correlationId is added when the reply is stamped)."""
    return Reply(status, {"status": "error", "message": message, "category": category, **extra})


def rate_limited(*, daily: bool) -> Reply:
    """HubSpot's 429 body for the rolling-window or the daily limit."""
    policy, limit = (
        ("DAILY", "daily") if daily else ("TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
    )
    body = {
        "status": "error",
        "message": f"You have reached your {limit} limit.",
        "errorType": "RATE_LIMIT",
        "policyName": policy,
    }
    return Reply(429, body)


def default_error_body(status: int) -> dict[str, Any]:
    """A realistic HubSpot error body for an injected status."""
    if status == 429:
        return rate_limited(daily=False).body
    message, category = _FAULT_DEFAULTS.get(status, (f"HTTP {status}", "ERROR"))
    return {"status": "error", "message": message, "category": category}


def stamp(reply: Reply, *, body: bool = True) -> Reply:
    """Give the reply a correlation id header, and error bodies the same id."""
    correlation_id = str(uuid.uuid4())
    reply.headers["x-hubspot-correlation-id"] = correlation_id
    if body and reply.status >= 400 and isinstance(reply.body, dict):
        reply.body.setdefault("correlationId", correlation_id)
    return reply


def not_found(request: ApiRequest) -> Reply:
    """The 404 for a path no route serves (a retired version's paths, once retired, too).

    HubSpot's exact body for this was not found in public material; this one is plausible.
    """
    message = f"Unable to route {request.method} request to {request.path}"
    return error_reply(404, message, "OBJECT_NOT_FOUND")


def method_not_allowed(request: ApiRequest) -> Reply:
    """The 405 for a known path called with a method it does not serve."""
    message = f"HTTP {request.method} is not supported by {request.path}"
    return error_reply(405, message, "NOT_ALLOWED")
