"""A loopback HTTP server that answers the HubSpot contact calls the target makes, quirks included.

`HubSpotState` holds the data and the HubSpot rules (pure logic behind one lock); `_Handler` only
parses HTTP requests and writes responses; `HubSpotEmulator` is the public face that runs both.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from target_hubspot_contacts.emulator.properties import (
    MAX_UNIQUE_PROPERTIES,
    PropertyDefinitionError,
    default_properties,
    format_timestamp,
    normalize_property,
    normalize_value,
    validate_value,
)

READ_SCOPE = "crm.objects.contacts.read"
WRITE_SCOPE = "crm.objects.contacts.write"
SCHEMA_READ_SCOPE = "crm.schemas.contacts.read"
SCHEMA_WRITE_SCOPE = "crm.schemas.contacts.write"
ALL_SCOPES = (READ_SCOPE, WRITE_SCOPE, SCHEMA_READ_SCOPE, SCHEMA_WRITE_SCOPE)

BATCH_LIMIT = 100
FIRST_CONTACT_ID = 1001
RECORD_ID = "hs_object_id"
PROPERTIES_PATH = "/crm/v3/properties/contacts"
BATCH_PATH = "/crm/v3/objects/contacts/batch/"
TOKEN_PATHS = frozenset({"/oauth/v1/token", "/oauth/2026-03/token"})
INTROSPECTION_PREFIX = "/_emulator/"
DEFAULT_READ_PROPERTIES = ("createdate", "email", "firstname", "lastmodifieddate", "lastname")
PRIVATE, OAUTH = "private", "oauth"

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
NOT_FOUND_MESSAGE = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
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
class RequestRecord:
    """One request the emulator received, with the answer it gave (status 0 = no answer yet)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None  # time.monotonic() once answered (or dropped)


@dataclass
class Fault:
    """A failure to serve instead of normal handling, for the next `times` matching requests."""

    path_suffix: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False
    delay: float = 0.0
    times: int = 1


def make_fault(
    path_suffix: str,
    *,
    status: int | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    drop_connection: bool = False,
    delay: float = 0.0,
    times: int = 1,
) -> Fault:
    """A checked Fault: it must fail, drop or delay, at least once."""
    if status is None and not drop_connection and delay <= 0:
        raise ValueError("a fault needs a status, drop_connection=True or a delay")
    if times < 1:
        raise ValueError("times must be at least 1")
    return Fault(path_suffix, status, body, dict(headers or {}), drop_connection, delay, times)


@dataclass
class Reply:
    """An HTTP answer: status, JSON body (None = empty) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


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

    @classmethod
    def parse(cls, method: str, target: str, headers: dict[str, str], raw: bytes) -> ApiRequest:
        """Split the target into path and query and decode the body (JSON or form)."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        request = cls(method, path, dict(parse_qsl(url.query, keep_blank_values=True)), headers)
        if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            request.form = True
            request.body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            return request
        request.body, request.body_error = _parse_json(raw)
        return request


@dataclass
class OAuthClient:
    """A registered OAuth app and the refresh tokens that currently work for it."""

    secret: str
    rotate: bool
    refresh_tokens: set[str] = field(default_factory=set)


@dataclass
class _Route:
    handler: Callable[[Any], Reply]
    scopes: tuple[str, ...]  # any one of them is enough


@dataclass
class _Write:
    """One batch write input after lookup and validation."""

    index: int
    trace_id: str | None
    values: dict[str, str]
    errors: list[dict[str, Any]]
    contact_id: str | None = None  # the existing contact to write; None = create one
    id_property: str | None = None  # upsert only: the identifying property and value
    id_value: str | None = None
    missing: str | None = None  # update only: the id that matched no contact

    @property
    def failed(self) -> bool:
        """Whether this input is refused."""
        return bool(self.errors) or self.missing is not None


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
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


def _timestamp() -> str:
    """Now, formatted as HubSpot formats timestamps."""
    return format_timestamp(datetime.now(timezone.utc))


def _error(status: int, message: str, category: str, **extra: Any) -> Reply:
    """A request-level HubSpot error body (correlationId is added when the reply is stamped)."""
    return Reply(status, {"status": "error", "message": message, "category": category, **extra})


def _oauth_error(status: str, message: str) -> Reply:
    """The token endpoint's 400 body, which names the problem in `status`."""
    return Reply(400, {"status": status, "message": message})


def _rate_limited(*, daily: bool) -> Reply:
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
        return _rate_limited(daily=False).body
    message, category = _FAULT_DEFAULTS.get(status, (f"HTTP {status}", "ERROR"))
    return {"status": "error", "message": message, "category": category}


def _stamp(reply: Reply, *, body: bool = True) -> Reply:
    """Give the reply a correlation id header, and error bodies the same id."""
    correlation_id = str(uuid.uuid4())
    reply.headers["x-hubspot-correlation-id"] = correlation_id
    if body and reply.status >= 400 and isinstance(reply.body, dict):
        reply.body.setdefault("correlationId", correlation_id)
    return reply


def _not_found(request: ApiRequest) -> Reply:
    return _error(404, f"No route for {request.method} {request.path}", "OBJECT_NOT_FOUND")


def _method_not_allowed(request: ApiRequest) -> Reply:
    return _error(405, f"HTTP {request.method} is not supported by {request.path}", "NOT_ALLOWED")


def _invalid_message(errors: list[dict[str, Any]]) -> str:
    """HubSpot's "Property values were not valid: [...]" message, JSON list inside."""
    return "Property values were not valid: " + json.dumps(
        errors, separators=(",", ":"), ensure_ascii=False
    )


def _duplicates_error(ids: list[str]) -> Reply:
    return _error(
        400,
        f"Duplicate IDs found in batch input: [{', '.join(ids)}]. IDs must be unique",
        "VALIDATION_ERROR",
        context={"ids": ids},
    )


def _batch_inputs(
    body: Any, *, require_id: bool, allow_missing: bool = False
) -> tuple[list[dict[str, Any]], Reply | None]:
    """The `inputs` list of a batch body, or a 400 when its shape is wrong."""
    if allow_missing and isinstance(body, dict) and body.get("inputs") is None:
        return [], None
    problem = _inputs_problem(body, require_id=require_id)
    if problem is not None:
        return [], _error(400, problem, "VALIDATION_ERROR")
    return body["inputs"], None


def _inputs_problem(body: Any, *, require_id: bool) -> str | None:
    """What is wrong with the shape of a batch body, if anything."""
    if not isinstance(body, dict):
        return "Invalid input JSON: expected an object"
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        return 'Invalid input: "inputs" must be a list of objects'
    if len(inputs) > BATCH_LIMIT:
        return f"Batch input size of {len(inputs)} exceeds the limit of {BATCH_LIMIT} inputs"
    if require_id and not all(isinstance(i.get("id"), str) and i["id"].strip() for i in inputs):
        return 'Invalid input: every input needs a non-empty string "id"'
    if not all(isinstance(item.get("properties") or {}, dict) for item in inputs):
        return 'Invalid input: "properties" must be an object'
    return None


def _duplicate_ids(inputs: list[dict[str, Any]]) -> Reply | None:
    """The whole-call 400 when two inputs name the same id (trimmed, case-insensitive)."""
    seen: set[tuple[str, str]] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = (item.get("idProperty") or RECORD_ID, item["id"].strip().lower())
        if key in seen and item["id"] not in duplicates:
            duplicates.append(item["id"])
        seen.add(key)
    return _duplicates_error(duplicates) if duplicates else None


def _whole_call_error(failed: list[_Write]) -> Reply:
    """The 400 HubSpot sends when an input without a trace id is invalid: nothing is written."""
    errors = [error for write in failed for error in write.errors]
    if not errors:
        ids = [write.missing for write in failed]
        return _error(400, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND", context={"ids": ids})
    details = [
        {"message": e["message"], "code": e["error"], "context": {"propertyName": [e["name"]]}}
        for e in errors
    ]
    return _error(400, _invalid_message(errors), "VALIDATION_ERROR", errors=details)


def _input_error(write: _Write) -> dict[str, Any]:
    """One entry of a 207 `errors` list, naming its input by trace id."""
    context: dict[str, list[str | None]] = {"objectWriteTraceId": [write.trace_id]}
    if write.errors:
        message, category = _invalid_message(write.errors), "VALIDATION_ERROR"
    else:
        message, category = NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND"
        context = {"ids": [write.missing], **context}
    return {"status": "error", "category": category, "message": message, "context": context}


def _batch_reply(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int, started: str
) -> Reply:
    """A batch answer; results come back reversed so nobody can match them by position."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results[::-1]}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    body.update(startedAt=started, completedAt=_timestamp())
    return Reply(207 if errors else ok_status, body)


def _public(contact: dict[str, Any], properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A contact as the API shows it (a copy)."""
    return {
        "id": contact["id"],
        "properties": dict(contact["properties"] if properties is None else properties),
        "createdAt": contact["createdAt"],
        "updatedAt": contact["updatedAt"],
        "archived": contact["archived"],
    }


def _index_key(name: str, value: str) -> str:
    """How a unique property value is matched: emails ignore case and surrounding space."""
    return value.strip().lower() if name == "email" else value


def _append_options(current: str | None, value: str) -> str:
    """A multi-select value with a leading `;` adds options instead of replacing them."""
    parts = [part for part in (current or "").split(";") if part]
    parts += [part for part in value.split(";") if part and part not in parts]
    return ";".join(parts)


class HubSpotState:
    """Contacts, property definitions, tokens, rate windows, faults and the request log.

    Everything is guarded by `lock`; methods not starting with `_` take it themselves.
    """

    def __init__(
        self,
        *,
        access_token: str | None,
        scopes: tuple[str, ...] | list[str] | None,
        rate_limit: int | None,
        interval_ms: int,
        daily_limit: int | None,
        latency: float,
        token_ttl: float,
        partial_upserts: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.partial_upserts = partial_upserts
        self.access_token = access_token
        self.scopes = frozenset(ALL_SCOPES if scopes is None else scopes)
        self.rate_limit = rate_limit
        self.interval_ms = interval_ms
        self.daily_limit = daily_limit
        self.latency = latency
        self.token_ttl = token_ttl
        self._clients: dict[str, OAuthClient] = {}
        self._access_tokens: dict[str, float] = {}  # token -> time.monotonic() it expires
        self._routes = self._build_routes()
        self._clear()

    def _build_routes(self) -> dict[str, dict[str, _Route]]:
        write, read = (WRITE_SCOPE,), (READ_SCOPE,)

        def writer(mode: str) -> _Route:
            return _Route(lambda body: self._batch_write(body, mode), write)

        return {
            PROPERTIES_PATH: {
                "GET": _Route(self._list_properties, (SCHEMA_READ_SCOPE, READ_SCOPE)),
                "POST": _Route(self._create_property, (SCHEMA_WRITE_SCOPE,)),
            },
            BATCH_PATH + "upsert": {"POST": writer("upsert")},
            BATCH_PATH + "create": {"POST": writer("create")},
            BATCH_PATH + "update": {"POST": writer("update")},
            BATCH_PATH + "archive": {"POST": _Route(self._batch_archive, write)},
            BATCH_PATH + "read": {"POST": _Route(self._batch_read, read)},
        }

    def _clear(self) -> None:
        self._contacts: dict[str, dict[str, Any]] = {}
        self._unique: dict[str, dict[str, str]] = {}  # property -> index key -> live contact id
        self._properties = {prop["name"]: prop for prop in default_properties()}
        self._next_id = FIRST_CONTACT_ID
        self._records: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._windows: dict[str, deque[float]] = {}
        self._daily_used = 0

    # ----- control and inspection (called from HubSpotEmulator) -----

    def reset(self) -> None:
        """Forget contacts, requests, faults and rate windows; restore default properties."""
        with self.lock:
            self._clear()

    def add_oauth_client(
        self, client_id: str, client_secret: str, refresh_token: str, *, rotate: bool
    ) -> None:
        """Register an OAuth app (or one more refresh token for it)."""
        with self.lock:
            client = self._clients.get(client_id)
            if client is None or client.secret != client_secret:
                client = self._clients[client_id] = OAuthClient(client_secret, rotate)
            client.rotate = rotate
            client.refresh_tokens.add(refresh_token)

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expire now."""
        with self.lock:
            now = time.monotonic()
            for token, expires in self._access_tokens.items():
                self._access_tokens[token] = min(expires, now)

    def add_property(self, definition: Mapping[str, Any]) -> None:
        """Add or replace a property definition."""
        prop = normalize_property(definition)
        with self.lock:
            self._properties[prop["name"]] = prop
            self._reindex(prop["name"])

    def inject(self, fault: Fault) -> None:
        """Queue a fault for matching requests."""
        with self.lock:
            self._faults.append(fault)

    def contacts(self) -> list[dict[str, Any]]:
        """A deep copy of every stored contact, archived ones included."""
        with self.lock:
            return copy.deepcopy(list(self._contacts.values()))

    def find_contact(self, criteria: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of the contact whose properties match all criteria; live contacts first."""
        if not criteria:
            raise ValueError("name at least one property to match")
        wanted = {name: _index_key(name, str(value)) for name, value in criteria.items()}
        with self.lock:
            found = [
                contact
                for contact in self._contacts.values()
                if all(
                    name in contact["properties"]
                    and _index_key(name, contact["properties"][name]) == value
                    for name, value in wanted.items()
                )
            ]
            found.sort(key=lambda contact: contact["archived"])
            return copy.deepcopy(found[0]) if found else None

    def records(self, path_suffix: str = "") -> list[RequestRecord]:
        """A deep copy of the logged requests whose path ends with path_suffix."""
        with self.lock:
            return copy.deepcopy([r for r in self._records if r.path.endswith(path_suffix)])

    def stats(self) -> dict[str, Any]:
        """Counts for humans: contacts, requests by path and status, 429s."""
        with self.lock:
            statuses = Counter(str(record.status) for record in self._records)
            live = sum(1 for contact in self._contacts.values() if not contact["archived"])
            return {
                "contacts": live,
                "archivedContacts": len(self._contacts) - live,
                "requests": len(self._records),
                "requestsByPath": dict(Counter(record.path for record in self._records)),
                "responsesByStatus": dict(statuses),
                "rateLimited": statuses.get("429", 0),
            }

    # ----- request lifecycle (called from the handler) -----

    def begin(self, request: ApiRequest) -> tuple[RequestRecord, Fault | None]:
        """Log the request and take the fault queued for it, if any."""
        with self.lock:
            record = RequestRecord(
                request.method, request.path, request.query, request.headers, request.body
            )
            self._records.append(record)
            return record, self._take_fault(request.path)

    def finish(self, record: RequestRecord, reply: Reply | None) -> None:
        """Complete the log entry with the answer (None = the connection was dropped)."""
        with self.lock:
            record.answered_at = time.monotonic()
            if reply is not None:
                record.status, record.response = reply.status, reply.body

    def handle(self, request: ApiRequest) -> Reply:
        """Answer an API request the way HubSpot would."""
        with self.lock:
            reply = self._dispatch(request)
        return _stamp(reply)

    def fault_reply(self, fault: Fault) -> Reply:
        """The injected error answer."""
        status = fault.status or 500
        if fault.body is None:
            return _stamp(Reply(status, default_error_body(status), dict(fault.headers)))
        return _stamp(Reply(status, copy.deepcopy(fault.body), dict(fault.headers)), body=False)

    def introspect(self, request: ApiRequest) -> Reply:
        """The unauthenticated `/_emulator/...` views."""
        if request.method == "GET" and request.path == "/_emulator/contacts":
            return _stamp(Reply(200, {"results": self.contacts()}))
        if request.method == "GET" and request.path == "/_emulator/stats":
            return _stamp(Reply(200, self.stats()))
        if request.method == "POST" and request.path == "/_emulator/faults":
            return _stamp(self._queue_fault(request.body))
        return _stamp(_not_found(request))

    def _queue_fault(self, body: Any) -> Reply:
        """`POST /_emulator/faults` with the keyword arguments of `HubSpotEmulator.inject`."""
        try:
            fault = make_fault(**body)
        except (TypeError, ValueError) as exc:
            return _error(400, f"Bad fault: {exc}", "VALIDATION_ERROR")
        self.inject(fault)
        return Reply(201, {"queued": asdict(fault)})

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if path.endswith(fault.path_suffix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ----- routing, authentication, limits -----

    def _dispatch(self, request: ApiRequest) -> Reply:
        if request.path in TOKEN_PATHS:
            return (
                self._refresh(request) if request.method == "POST" else _method_not_allowed(request)
            )
        route = self._routes.get(request.path, {}).get(request.method)
        if route is None:
            known = request.path in self._routes
            return _method_not_allowed(request) if known else _not_found(request)
        kind, refused = self._authenticate(request.headers)
        if refused is not None:
            return refused
        limit_headers, reply = self._spend(kind)
        reply = reply or self._authorize(route.scopes) or self._call(route, request)
        reply.headers.update(limit_headers)
        return reply

    def _authenticate(self, headers: Mapping[str, str]) -> tuple[str, Reply | None]:
        """The token kind (PRIVATE or OAUTH) and None, or "" and the 401 to send."""
        unknown = _error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "", unknown
        if self.access_token is not None and token == self.access_token:
            return PRIVATE, None
        expires = self._access_tokens.get(token)
        if expires is None:
            return "", unknown
        overdue = time.monotonic() - expires
        if overdue >= 0:
            message = (
                f"The OAuth token used to make this call expired {int(overdue):,} second(s) ago."
            )
            return "", _error(401, message, "EXPIRED_AUTHENTICATION")
        return OAUTH, None

    def _window(self, kind: str, now: float) -> deque[float]:
        """The calls of this token kind inside the rolling window ending now."""
        window = self._windows.setdefault(kind, deque())
        horizon = now - self.interval_ms / 1000
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def _spend(self, kind: str) -> tuple[dict[str, str], Reply | None]:
        """Count one call against the budgets, or refuse it with 429 (which costs nothing)."""
        now = time.monotonic()
        window = self._window(kind, now)
        daily = kind == PRIVATE and self.daily_limit is not None
        if daily and self._daily_used >= self.daily_limit:
            return self._limit_headers(kind, window), _rate_limited(daily=True)
        if self.rate_limit is not None and len(window) >= self.rate_limit:
            return self._limit_headers(kind, window), _rate_limited(daily=False)
        window.append(now)
        if daily:
            self._daily_used += 1
        return self._limit_headers(kind, window), None

    def _limit_headers(self, kind: str, window: deque[float]) -> dict[str, str]:
        headers = {}
        if self.rate_limit is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(self.rate_limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.rate_limit - len(window)))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(self.interval_ms)
        if kind == PRIVATE and self.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            remaining = max(0, self.daily_limit - self._daily_used)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(remaining)
        return headers

    def _authorize(self, any_of: tuple[str, ...]) -> Reply | None:
        """None when the token holds one of the scopes, else HubSpot's 403."""
        if self.scopes.intersection(any_of):
            return None
        required = list(any_of)
        errors = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ]
        return _error(
            403,
            SCOPES_MESSAGE,
            "MISSING_SCOPES",
            errors=errors,
            context={"missingScopes": required},
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )

    def _call(self, route: _Route, request: ApiRequest) -> Reply:
        if request.method == "POST" and request.form:
            return _error(415, "Content-Type must be application/json", "UNSUPPORTED_MEDIA_TYPE")
        if request.method == "POST" and request.body_error is not None:
            return _error(400, request.body_error, "VALIDATION_ERROR")
        return route.handler(request.body)

    # ----- OAuth -----

    def _refresh(self, request: ApiRequest) -> Reply:
        """`grant_type=refresh_token`: a new access token (and maybe a rotated refresh token)."""
        form = request.body if request.form else {}
        if form.get("grant_type") != "refresh_token":
            return _oauth_error("BAD_GRANT_TYPE", "unsupported grant type")
        client = self._clients.get(form.get("client_id", ""))
        if client is None:
            return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != client.secret:
            return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in client.refresh_tokens:
            return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        if client.rotate:
            client.refresh_tokens.discard(refresh_token)
            refresh_token = f"na1-{uuid.uuid4()}"
            client.refresh_tokens.add(refresh_token)
        access_token = "CO" + secrets.token_urlsafe(48)
        self._access_tokens[access_token] = time.monotonic() + self.token_ttl
        body = {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": access_token,
            "expires_in": self.token_ttl,
        }
        return Reply(200, body)

    # ----- properties -----

    def _list_properties(self, _body: Any) -> Reply:
        return Reply(200, {"results": copy.deepcopy(list(self._properties.values()))})

    def _create_property(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return _error(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        try:
            prop = normalize_property(body)
        except PropertyDefinitionError as exc:
            return _error(400, str(exc), "VALIDATION_ERROR")
        if prop["name"] in self._properties:
            message = f"Property named '{prop['name']}' already exists."
            return _error(409, message, "OBJECT_ALREADY_EXISTS")
        unique = sum(1 for p in self._properties.values() if p["hasUniqueValue"])
        if prop["hasUniqueValue"] and unique >= MAX_UNIQUE_PROPERTIES:
            message = f"Only {MAX_UNIQUE_PROPERTIES} properties per object can have unique values"
            return _error(400, message, "VALIDATION_ERROR")
        self._properties[prop["name"]] = prop
        return Reply(201, copy.deepcopy(prop))

    # ----- contacts: lookup and indexes -----

    def _is_unique(self, name: str) -> bool:
        """Whether contacts can be identified by this property."""
        return name == "email" or bool(self._properties.get(name, {}).get("hasUniqueValue"))

    def _lookup(self, name: str, value: str) -> str | None:
        """The id of the live contact whose identifying property holds value."""
        if name == RECORD_ID:
            contact = self._contacts.get(value.strip())
            return contact["id"] if contact is not None and not contact["archived"] else None
        return self._unique.get(name, {}).get(_index_key(name, value))

    def _index_change(self, contact_id: str, name: str, old: str | None, new: str | None) -> None:
        if not self._is_unique(name):
            return
        index = self._unique.setdefault(name, {})
        if old is not None and index.get(_index_key(name, old)) == contact_id:
            del index[_index_key(name, old)]
        if new is not None:
            index[_index_key(name, new)] = contact_id

    def _reindex(self, name: str) -> None:
        """Rebuild one property's index after its definition changed."""
        self._unique.pop(name, None)
        for contact in self._contacts.values():
            value = contact["properties"].get(name)
            if not contact["archived"] and value is not None:
                self._index_change(contact["id"], name, None, value)

    # ----- contacts: batch endpoints -----

    def _batch_write(self, body: Any, mode: str) -> Reply:
        """batch/upsert, batch/create and batch/update."""
        started = _timestamp()
        inputs, reply = _batch_inputs(
            body, require_id=mode != "create", allow_missing=mode == "upsert"
        )
        if reply is not None:
            return reply
        if not inputs:  # also the real quirk: no `inputs` wrapper answers COMPLETE, writes nothing
            return _batch_reply([], [], 201 if mode == "create" else 200, started)
        if mode != "create":
            reply = self._check_id_properties(inputs, mode) or _duplicate_ids(inputs)
            if reply is not None:
                return reply
        writes = [self._plan(index, item, mode) for index, item in enumerate(inputs)]
        failed = [write for write in writes if write.failed]
        # HubSpot's docs say partial upserts keyed on email are unsupported; a recording shows
        # 207s. `partial_upserts=False` plays the documented behaviour: the whole call fails.
        whole_call = not self.partial_upserts or any(write.trace_id is None for write in writes)
        if failed and whole_call:
            return _whole_call_error(failed)
        valid = [write for write in writes if not write.failed]
        reply = self._check_conflicts(valid)
        if reply is not None:
            return reply
        results = [self._apply(write, mode) for write in valid]
        errors = [_input_error(write) for write in failed]
        return _batch_reply(results, errors, 201 if mode == "create" else 200, started)

    def _check_id_properties(self, inputs: list[dict[str, Any]], mode: str) -> Reply | None:
        """400 unless every idProperty is unique (update may also use record ids)."""
        for item in inputs:
            name = item.get("idProperty") or RECORD_ID
            if not (self._is_unique(name) or (mode == "update" and name == RECORD_ID)):
                message = f"Unable to perform update/upsert by non-unique 0-1 property {name}"
                return _error(400, message, "VALIDATION_ERROR")
        return None

    def _plan(self, index: int, item: dict[str, Any], mode: str) -> _Write:
        """Validate one input and find the contact it writes to."""
        trace_id = item.get("objectWriteTraceId")
        values, errors = self._validate(item.get("properties") or {})
        write = _Write(index, None if trace_id is None else str(trace_id), values, errors)
        if mode == "create":
            return write
        name, value = item.get("idProperty") or RECORD_ID, item["id"]
        write.contact_id = self._lookup(name, value)
        if mode == "update":
            write.missing = value if write.contact_id is None else None
            return write
        write.id_property, write.id_value = name, value
        id_error = validate_value(self._properties.get(name), name, value)
        if id_error is not None and id_error not in errors:
            errors.insert(0, id_error)
        return write

    def _validate(self, properties: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """The values to write, or the validation errors of every bad value."""
        errors = []
        for name, value in properties.items():
            error = validate_value(self._properties.get(name), name, value)
            if error is not None:
                errors.append(error)
        return ({} if errors else dict(properties)), errors

    def _unique_values(self, write: _Write) -> Iterator[tuple[str, str]]:
        """The identifying property values this write would store."""
        if write.contact_id is None and write.id_property and write.id_value:
            yield write.id_property, write.id_value
        for name, value in write.values.items():
            if value and self._is_unique(name):
                yield name, value

    def _check_conflicts(self, writes: list[_Write]) -> Reply | None:
        """409 when a write would give a unique value (e.g. an email) to a second contact."""
        claimed: dict[tuple[str, str], str] = {}
        for write in writes:
            owner = write.contact_id or f"new-{write.index}"
            for name, value in self._unique_values(write):
                key = (name, _index_key(name, value))
                holder = self._unique.get(name, {}).get(key[1])
                if holder is not None and holder != write.contact_id:
                    return _error(409, f"Contact already exists. Existing ID: {holder}", "CONFLICT")
                if claimed.setdefault(key, owner) != owner:
                    return _duplicates_error([value])
        return None

    def _apply(self, write: _Write, mode: str) -> dict[str, Any]:
        """Store one valid write and return its result entry."""
        now = _timestamp()
        if write.contact_id is None:
            contact = self._create_contact(now)
            if write.id_property and write.id_value:
                self._set(contact, write.id_property, write.id_value)
        else:
            contact = self._contacts[write.contact_id]
        for name, value in write.values.items():
            self._set(contact, name, value)
        contact["updatedAt"] = contact["properties"]["lastmodifieddate"] = now
        result = _public(contact)
        if mode == "upsert":
            result["new"] = write.contact_id is None
        if write.trace_id is not None:
            result["objectWriteTraceId"] = write.trace_id
        return result

    def _create_contact(self, now: str) -> dict[str, Any]:
        contact_id = str(self._next_id)
        self._next_id += 1
        contact = {
            "id": contact_id,
            "properties": {RECORD_ID: contact_id, "createdate": now, "lastmodifieddate": now},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self._contacts[contact_id] = contact
        return contact

    def _set(self, contact: dict[str, Any], name: str, value: str) -> None:
        """Write one validated value; `""` clears it."""
        properties = contact["properties"]
        definition = self._properties[name]
        old = properties.get(name)
        if value == "":
            properties.pop(name, None)
        elif value.startswith(";") and definition["fieldType"] == "checkbox":
            properties[name] = _append_options(old, value)
        else:
            properties[name] = normalize_value(definition, name, value)
        if name == "email":
            domain = properties.get("email", "").partition("@")[2]
            properties["hs_email_domain"] = domain
            if not domain:
                properties.pop("hs_email_domain")
        self._index_change(contact["id"], name, old, properties.get(name))

    def _batch_read(self, body: Any) -> Reply:
        started = _timestamp()
        inputs, reply = _batch_inputs(body, require_id=True)
        if reply is not None:
            return reply
        name = body.get("idProperty") or RECORD_ID
        if name != RECORD_ID and not self._is_unique(name):
            message = f"Unable to perform read by non-unique 0-1 property {name}"
            return _error(400, message, "VALIDATION_ERROR")
        wanted = body.get("properties") or DEFAULT_READ_PROPERTIES
        if not isinstance(wanted, (list, tuple)) or not all(isinstance(p, str) for p in wanted):
            return _error(400, 'Invalid input: "properties" must be a list', "VALIDATION_ERROR")
        results, missing, seen = [], [], set()
        for item in inputs:
            contact_id = self._lookup(name, item["id"])
            if contact_id is None:
                missing.append(item["id"])
            elif contact_id not in seen:
                seen.add(contact_id)
                results.append(self._read_view(contact_id, wanted))
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": NOT_FOUND_MESSAGE,
                "context": {"ids": missing},
            }
        ]
        return _batch_reply(results, errors if missing else [], 200, started)

    def _read_view(self, contact_id: str, wanted: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """A contact with only the requested properties (unset ones as null) and its record id."""
        contact = self._contacts[contact_id]
        properties = {name: contact["properties"].get(name) for name in wanted}
        properties[RECORD_ID] = contact_id
        return _public(contact, properties)

    def _batch_archive(self, body: Any) -> Reply:
        inputs, reply = _batch_inputs(body, require_id=True)
        if reply is not None:
            return reply
        for item in inputs:
            contact = self._contacts.get(item["id"].strip())
            if contact is not None and not contact["archived"]:
                self._archive(contact)
        return Reply(204)

    def _archive(self, contact: dict[str, Any]) -> None:
        contact["archived"] = True
        contact["archivedAt"] = contact["updatedAt"] = _timestamp()
        for name, value in contact["properties"].items():
            self._index_change(contact["id"], name, value, None)


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its state and can close idle keep-alive sockets."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: HubSpotState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    def track(self, sock: socket.socket, *, open_: bool) -> None:
        """Remember (or forget) a client connection."""
        with self._sockets_lock:
            if open_:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def close_client_sockets(self) -> None:
        """Hang up on every client still connected (keep-alive threads would wait forever)."""
        with self._sockets_lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up are normal here; anything else is a bug worth printing."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into `ApiRequest`s for the state and `Reply`s back into HTTP/1.1."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def version_string(self) -> str:
        """The `Server` header."""
        return "HubSpotEmulator/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the CLI's stdout and stderr belong to the user."""

    def _serve(self) -> None:
        state = self.server.state
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = ApiRequest.parse(self.command, self.path, headers, self._read_body())
        if request.path.startswith(INTROSPECTION_PREFIX):
            self._send(state.introspect(request))
            return
        record, fault = state.begin(request)
        time.sleep((fault.delay if fault else 0.0) + state.latency)
        if fault is not None and fault.drop_connection:
            state.finish(record, None)
            self.close_connection = True
            return
        reply = state.fault_reply(fault) if fault and fault.status else self._handle(request)
        state.finish(record, reply)
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server's names)

    def _handle(self, request: ApiRequest) -> Reply:
        """The state's answer; a bug becomes a printed traceback and a 500, not a hung client."""
        try:
            return self.server.state.handle(request)
        except Exception:
            sys.stderr.write(traceback.format_exc())
            return _stamp(_error(500, "internal error", "INTERNAL_ERROR"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True  # the body's end is unknown, so the stream is unusable
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            if payload:
                self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up, e.g. it timed out during an injected delay
            self.close_connection = True


class HubSpotEmulator:
    """HubSpot's contact API on loopback, for tests, demos, benchmarks and offline dry runs."""

    def __init__(
        self,
        access_token: str | None = "pat-test",  # noqa: S107 (a fake token for a fake server)
        *,
        scopes: tuple[str, ...] | list[str] | None = None,
        rate_limit: int | None = 190,
        interval_ms: int = 10_000,
        daily_limit: int | None = 1_000_000,
        latency: float = 0.0,
        token_ttl: float = 1800,
        partial_upserts: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._state = HubSpotState(
            access_token=access_token,
            scopes=scopes,
            rate_limit=rate_limit,
            interval_ms=interval_ms,
            daily_limit=daily_limit,
            latency=latency,
            token_ttl=token_ttl,
            partial_upserts=partial_upserts,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----

    def start(self) -> HubSpotEmulator:
        """Listen and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = _Server((self.host, self._requested_port), self._state)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="hubspot-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and hang up on connected clients."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_client_sockets()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (only while running)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:53117` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def access_token(self) -> str | None:
        """The static private-app token it accepts."""
        return self._state.access_token

    @property
    def latency(self) -> float:
        """Seconds added to every API call; settable while running."""
        return self._state.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._state.latency = seconds

    # ----- setup -----

    def add_oauth_client(
        self, client_id: str, client_secret: str, refresh_token: str, rotate: bool = False
    ) -> None:
        """Accept this OAuth app; with rotate, every refresh replaces the refresh token."""
        self._state.add_oauth_client(client_id, client_secret, refresh_token, rotate=rotate)

    def expire_access_tokens(self) -> None:
        """Every OAuth access token issued so far expires now."""
        self._state.expire_access_tokens()

    def add_property(self, definition: Mapping[str, Any]) -> None:
        """Add (or replace) a contact property definition, as `POST /crm/v3/properties` would."""
        self._state.add_property(definition)

    def inject(
        self,
        path_suffix: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        drop_connection: bool = False,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests whose path ends with path_suffix fail this way.

        `delay` sleeps before handling (and before a status or a drop, when combined).
        """
        fault = make_fault(
            path_suffix,
            status=status,
            body=body,
            headers=headers,
            drop_connection=drop_connection,
            delay=delay,
            times=times,
        )
        self._state.inject(fault)

    def reset(self) -> None:
        """Forget contacts, requests, faults and rate windows; restore default properties."""
        self._state.reset()

    # ----- inspection -----

    @property
    def contacts(self) -> list[dict[str, Any]]:
        """A snapshot of every stored contact (archived ones have `archived: true`)."""
        return self._state.contacts()

    def contact(self, email: str | None = None, **by_property: Any) -> dict[str, Any] | None:
        """A snapshot of the contact matching all given property values, or None."""
        criteria = dict(by_property)
        if email is not None:
            criteria["email"] = email
        return self._state.find_contact(criteria)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every API request received, in arrival order."""
        return self._state.records()

    def calls(self, path_suffix: str) -> list[RequestRecord]:
        """The recorded requests whose path ends with path_suffix."""
        return self._state.records(path_suffix)

    def stats(self) -> dict[str, Any]:
        """What `GET /_emulator/stats` shows."""
        return self._state.stats()
