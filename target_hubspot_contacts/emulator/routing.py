"""The routing core: one lock over all state, the route table, scope checks and the request log.

The endpoint families (`oauth`, `limits`, `property_endpoints`, `objects`) hold their own data
and are only ever called by `HubSpotState` with its lock held.
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from target_hubspot_contacts.emulator.account import ACCOUNT_DETAILS_PATHS, Account
from target_hubspot_contacts.emulator.limits import Fault, FaultQueue, RateLimits, make_fault
from target_hubspot_contacts.emulator.oauth import TOKEN_PATHS, TokenAuthority
from target_hubspot_contacts.emulator.objects import WRITE_MODES, ContactStore, batch_paths
from target_hubspot_contacts.emulator.properties import normalize_property
from target_hubspot_contacts.emulator.property_endpoints import PROPERTY_PATHS, PropertyCatalog
from target_hubspot_contacts.emulator.replies import (
    SCOPES_MESSAGE,
    ApiRequest,
    Reply,
    error_reply,
    method_not_allowed,
    not_found,
    stamp,
)
from target_hubspot_contacts.emulator.validation_rules import ValidationRules
from target_hubspot_contacts.emulator.versions import is_retired

READ_SCOPE = "crm.objects.contacts.read"
WRITE_SCOPE = "crm.objects.contacts.write"
SCHEMA_READ_SCOPE = "crm.schemas.contacts.read"
SCHEMA_WRITE_SCOPE = "crm.schemas.contacts.write"
ALL_SCOPES = (READ_SCOPE, WRITE_SCOPE, SCHEMA_READ_SCOPE, SCHEMA_WRITE_SCOPE)
INTROSPECTION_PREFIX = "/_emulator/"
# When a call is counted against the rate limits: as it arrives (as HubSpot does), or once
# its latency has passed (answer), to show how the target copes if HubSpot counted that way.
COUNT_ON_ARRIVAL, COUNT_ON_ANSWER = "arrival", "answer"
COUNT_AT = (COUNT_ON_ARRIVAL, COUNT_ON_ANSWER)


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
    response_headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None  # time.monotonic() once answered (or dropped)


@dataclass
class Route:
    """What serves one method of one path."""

    handler: Callable[[ApiRequest], Reply]
    scopes: tuple[str, ...]  # any one of them is enough
    public: bool = False  # no token, rate limit, scope or JSON check (the OAuth token endpoint)


@dataclass
class Admission:
    """A request let past routing, authentication and the rate limits, or the reply refusing it."""

    route: Route | None = None
    limit_headers: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None  # the whole answer, when the request goes no further


class RouteTable:
    """Routes by path and method; one handler may serve several paths, e.g. API versions."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Route]] = {}

    def add(
        self,
        paths: Iterable[str],
        method: str,
        handler: Callable[[ApiRequest], Reply],
        scopes: tuple[str, ...] = (),
        *,
        public: bool = False,
    ) -> None:
        """Serve `method` on every one of `paths` with handler."""
        route = Route(handler, scopes, public)
        for path in paths:
            self._routes.setdefault(path, {})[method] = route

    def find(self, path: str, method: str) -> Route | None:
        """The route for this call, if any."""
        return self._routes.get(path, {}).get(method)

    def knows(self, path: str) -> bool:
        """Whether some method is served on path (a 405 rather than a 404 for the others)."""
        return path in self._routes


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
        dated_only: bool = False,
        error_shape: str = "embedded",
        count_at: str = COUNT_ON_ARRIVAL,
        portal_id: int | None = None,
        account_details_scope: str | None = None,
        token_hub_id: bool = True,
    ) -> None:
        if count_at not in COUNT_AT:
            raise ValueError(f"count_at must be one of {COUNT_AT}, not {count_at!r}")
        self.lock = threading.RLock()
        self.count_at = count_at
        self.scopes = frozenset(ALL_SCOPES if scopes is None else scopes)
        self.latency = latency
        self.dated_only = dated_only  # answer numeric-version paths as HubSpot will once retired
        self.max_request_bytes: int | None = None  # larger bodies get 413
        self._account = Account() if portal_id is None else Account(portal_id)
        hub_id = self._account.portal_id if token_hub_id else None
        self._tokens = TokenAuthority(access_token, token_ttl, hub_id)
        self._account_details_scopes = (account_details_scope,) if account_details_scope else ()
        self._limits = RateLimits(rate_limit, interval_ms, daily_limit)
        self._faults = FaultQueue()
        self._properties = PropertyCatalog()
        self._rules = ValidationRules()
        self._contacts = ContactStore(
            self._properties,
            self._rules,
            partial_upserts=partial_upserts,
            error_shape=error_shape,
        )
        self._records: list[RequestRecord] = []
        self._routes = self._build_routes()

    def _build_routes(self) -> RouteTable:
        """Every API endpoint, each under all the paths its family lists."""
        routes = RouteTable()
        contacts, properties = self._contacts, self._properties
        write, read = (WRITE_SCOPE,), (READ_SCOPE,)
        routes.add(TOKEN_PATHS, "POST", self._tokens.refresh, public=True)
        # HubSpot's docs list the scope `oauth` for account details; by default none is needed.
        routes.add(
            ACCOUNT_DETAILS_PATHS, "GET", self._account.details, self._account_details_scopes
        )
        routes.add(
            PROPERTY_PATHS, "GET", properties.list_properties, (SCHEMA_READ_SCOPE, READ_SCOPE)
        )
        routes.add(PROPERTY_PATHS, "POST", properties.create_property, (SCHEMA_WRITE_SCOPE,))
        for mode in WRITE_MODES:
            routes.add(batch_paths(mode), "POST", partial(contacts.batch_write, mode=mode), write)
        routes.add(batch_paths("archive"), "POST", contacts.batch_archive, write)
        routes.add(batch_paths("read"), "POST", contacts.batch_read, read)
        return routes

    @property
    def access_token(self) -> str | None:
        """The static private-app token accepted."""
        return self._tokens.access_token

    @property
    def traced_errors(self) -> bool:
        """Whether 207 errors carry the `objectWriteTraceId` of their input."""
        return self._contacts.traced_errors

    @traced_errors.setter
    def traced_errors(self, traced: bool) -> None:
        with self.lock:
            self._contacts.traced_errors = traced

    # ----- control and inspection (called from HubSpotEmulator) -----

    def reset(self) -> None:
        """Forget contacts, requests, faults, rate windows and rules; restore default properties."""
        with self.lock:
            self._contacts.clear()
            self._properties.clear()
            self._rules.clear()
            self._records = []
            self._faults.clear()
            self._limits.clear()

    def add_oauth_client(
        self, client_id: str, client_secret: str, refresh_token: str, *, rotate: bool
    ) -> None:
        """Register an OAuth app (or one more refresh token for it)."""
        with self.lock:
            self._tokens.add_client(client_id, client_secret, refresh_token, rotate=rotate)

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expire now."""
        with self.lock:
            self._tokens.expire_access_tokens()

    def new_day(self) -> None:
        """Reset the daily budget."""
        with self.lock:
            self._limits.new_day()

    def add_property(self, definition: Mapping[str, Any]) -> None:
        """Add or replace a property definition."""
        prop = normalize_property(definition)
        with self.lock:
            self._properties.put(prop)
            self._contacts.reindex(prop["name"])

    def require_property(self, name: str, when: Mapping[str, str] | None = None) -> None:
        """Add a portal validation rule (enforced on writes through 2026-09 paths and later)."""
        with self.lock:
            self._rules.require(name, when)

    def inject(self, fault: Fault) -> None:
        """Queue a fault for matching requests."""
        with self.lock:
            self._faults.add(fault)

    def contacts(self) -> list[dict[str, Any]]:
        """A deep copy of every stored contact, archived ones included."""
        with self.lock:
            return self._contacts.snapshot()

    def find_contact(self, criteria: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of the contact whose properties match all criteria; live contacts first."""
        with self.lock:
            return self._contacts.find(criteria)

    def records(self, path_suffix: str = "") -> list[RequestRecord]:
        """A deep copy of the logged requests whose path ends with path_suffix."""
        with self.lock:
            return copy.deepcopy([r for r in self._records if r.path.endswith(path_suffix)])

    def retired_path_records(self) -> list[RequestRecord]:
        """A deep copy of the logged requests to numeric-version paths (`/v1/`, `/v3/`, ...)."""
        with self.lock:
            return copy.deepcopy([r for r in self._records if is_retired(r.path)])

    def stats(self) -> dict[str, Any]:
        """Counts for humans: contacts, requests by path and status, 429s."""
        with self.lock:
            statuses = Counter(str(record.status) for record in self._records)
            live, archived = self._contacts.counts()
            return {
                "contacts": live,
                "archivedContacts": archived,
                "requests": len(self._records),
                "requestsByPath": dict(Counter(record.path for record in self._records)),
                "responsesByStatus": dict(statuses),
                "rateLimited": statuses.get("429", 0),
                "retiredPathRequests": sum(1 for r in self._records if is_retired(r.path)),
            }

    # ----- request lifecycle (called from the handler) -----

    def begin(self, request: ApiRequest, arrived: float) -> tuple[RequestRecord, Fault | None]:
        """Log the request (in order of arrival) and take the fault queued for it, if any."""
        with self.lock:
            record = RequestRecord(
                request.method, request.path, request.query, request.headers, request.body
            )
            record.at = arrived
            bisect.insort(self._records, record, key=lambda logged: logged.at)
            return record, self._faults.take(request.path)

    def finish(self, record: RequestRecord, reply: Reply | None) -> None:
        """Complete the log entry with the answer (None = the connection was dropped)."""
        with self.lock:
            record.answered_at = time.monotonic()
            if reply is not None:
                record.status, record.response = reply.status, reply.body
                record.response_headers = dict(reply.headers)

    def admit(self, request: ApiRequest, arrived: float) -> Admission:
        """Route, authenticate and count the request against the limits (a 429 if over)."""
        with self.lock:
            return self._admit(request, arrived)

    def handle(self, request: ApiRequest, admission: Admission | None = None) -> Reply:
        """Answer an API request the way HubSpot would (admitting it first, unless done)."""
        with self.lock:
            reply = self._answer(request, admission or self._admit(request, time.monotonic()))
        return stamp(reply)

    def introspect(self, request: ApiRequest) -> Reply:
        """The unauthenticated `/_emulator/...` views."""
        if request.method == "GET" and request.path == "/_emulator/contacts":
            return stamp(Reply(200, {"results": self.contacts()}))
        if request.method == "GET" and request.path == "/_emulator/stats":
            return stamp(Reply(200, self.stats()))
        if request.method == "POST" and request.path == "/_emulator/faults":
            return stamp(self._queue_fault(request.body))
        return stamp(not_found(request))

    def _queue_fault(self, body: Any) -> Reply:
        """`POST /_emulator/faults` with the keyword arguments of `HubSpotEmulator.inject`."""
        try:
            fault = make_fault(**body)
        except (TypeError, ValueError) as exc:
            return error_reply(400, f"Bad fault: {exc}", "VALIDATION_ERROR")
        self.inject(fault)
        return Reply(201, {"queued": asdict(fault)})

    # ----- routing, authentication, limits -----

    def _admit(self, request: ApiRequest, at: float) -> Admission:
        if self.dated_only and is_retired(request.path):
            return Admission(reply=not_found(request))
        if self.max_request_bytes is not None and request.size > self.max_request_bytes:
            # As a gateway answers, before any HubSpot logic, auth or rate limit.
            too_large = Reply(413, {"status": "error", "message": "Request Entity Too Large"})
            return Admission(reply=too_large)
        route = self._routes.find(request.path, request.method)
        if route is None:
            known = self._routes.knows(request.path)
            return Admission(reply=method_not_allowed(request) if known else not_found(request))
        if route.public:
            return Admission(route)
        kind, refused = self._tokens.authenticate(request.headers)
        if refused is not None:
            return Admission(reply=refused)
        limit_headers, over_limit = self._limits.spend(kind, at)
        if over_limit is not None:
            over_limit.headers.update(limit_headers)
        return Admission(route, limit_headers, over_limit)

    def _answer(self, request: ApiRequest, admission: Admission) -> Reply:
        route = admission.route
        if admission.reply is not None or route is None:
            return admission.reply or not_found(request)
        if route.public:
            return route.handler(request)
        reply = self._authorize(route.scopes) or self._call(route, request)
        reply.headers.update(admission.limit_headers)
        return reply

    def _authorize(self, any_of: tuple[str, ...]) -> Reply | None:
        """None when the route needs no scope or the token holds one of them, else a 403."""
        if not any_of or self.scopes.intersection(any_of):
            return None
        required = list(any_of)
        errors = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ]
        return error_reply(
            403,
            SCOPES_MESSAGE,
            "MISSING_SCOPES",
            errors=errors,
            context={"missingScopes": required},
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )

    def _call(self, route: Route, request: ApiRequest) -> Reply:
        if request.method == "POST" and request.form:
            return error_reply(
                415, "Content-Type must be application/json", "UNSUPPORTED_MEDIA_TYPE"
            )
        if request.method == "POST" and request.body_error is not None:
            return error_reply(400, request.body_error, "VALIDATION_ERROR")
        return route.handler(request)
