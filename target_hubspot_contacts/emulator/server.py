"""A loopback HTTP server that answers the HubSpot contact calls the target makes, quirks included.

`HubSpotState` (in `routing`) holds the data and the HubSpot rules (pure logic behind one lock);
`_Handler` only parses HTTP requests and writes responses; `HubSpotEmulator` is the public face
that runs both.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from target_hubspot_contacts.emulator.limits import Fault, fault_reply, make_fault
from target_hubspot_contacts.emulator.replies import ApiRequest, Reply, error_reply, stamp
from target_hubspot_contacts.emulator.routing import (
    ALL_SCOPES,
    COUNT_ON_ARRIVAL,
    INTROSPECTION_PREFIX,
    Admission,
    HubSpotState,
    RequestRecord,
)

__all__ = ["ALL_SCOPES", "Fault", "HubSpotEmulator", "RequestRecord", "make_fault"]


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
        arrived = time.monotonic()  # the request line and headers are in: HubSpot has it
        state = self.server.state
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = ApiRequest.parse(self.command, self.path, headers, self._read_body())
        if request.path.startswith(INTROSPECTION_PREFIX):
            self._send(state.introspect(request))
            return
        record, fault = state.begin(request, arrived)
        faulted = fault is not None and (fault.status is not None or fault.drop_connection)
        admission = None
        if not faulted and state.count_at == COUNT_ON_ARRIVAL:
            admission = state.admit(request, arrived)
        # A call refused on arrival (a 429, a bad token) is answered without doing the work.
        working = admission is None or admission.reply is None
        time.sleep((fault.delay if fault else 0.0) + (state.latency if working else 0.0))
        if fault is not None and fault.drop_connection:
            state.finish(record, None)
            self.close_connection = True
            return
        reply = fault_reply(fault) if faulted else self._handle(request, admission)
        state.finish(record, reply)
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server's names)

    def _handle(self, request: ApiRequest, admission: Admission | None) -> Reply:
        """The state's answer; a bug becomes a printed traceback and a 500, not a hung client."""
        try:
            return self.server.state.handle(request, admission)
        except Exception:
            sys.stderr.write(traceback.format_exc())
            return stamp(error_reply(500, "internal error", "INTERNAL_ERROR"))

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
        payload = reply.raw if reply.raw is not None else payload
        try:
            self.send_response(reply.status)
            if payload:
                self.send_header("Content-Type", reply.content_type)
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
        dated_only: bool = False,
        error_shape: str = "embedded",
        traced_errors: bool = True,
        max_request_bytes: int | None = None,
        count_at: str = COUNT_ON_ARRIVAL,
        portal_id: int | None = None,
        account_details_scope: str | None = None,
        token_hub_id: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`dated_only`: answer `/v1/`-`/v4/` paths with a 404, as HubSpot will after retiring
        them. `error_shape`: "embedded" or "listed", where validation errors name the property.
        `account_details_scope`: the scope account details require (HubSpot's docs say
        `oauth`; None: any valid token may read them). `token_hub_id`: the dated token
        endpoints' answers name the portal (`hub_id`), as HubSpot's 2026 answers may.
        """
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
            dated_only=dated_only,
            error_shape=error_shape,
            count_at=count_at,
            portal_id=portal_id,
            account_details_scope=account_details_scope,
            token_hub_id=token_hub_id,
        )
        self.traced_errors = traced_errors
        self.max_request_bytes = max_request_bytes
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

    @property
    def traced_errors(self) -> bool:
        """Whether 207 errors name their input by `objectWriteTraceId`; settable while running."""
        return self._state.traced_errors

    @traced_errors.setter
    def traced_errors(self, traced: bool) -> None:
        self._state.traced_errors = traced

    @property
    def max_request_bytes(self) -> int | None:
        """Request bodies larger than this get 413 (None = no limit); settable while running."""
        return self._state.max_request_bytes

    @max_request_bytes.setter
    def max_request_bytes(self, limit: int | None) -> None:
        self._state.max_request_bytes = limit

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
        """Add (or replace) a contact property definition, as `POST .../properties` would."""
        self._state.add_property(definition)

    def require_property(self, name: str, when: Mapping[str, str] | None = None) -> None:
        """A portal validation rule: contacts must hold `name` (only while `when` holds, e.g.
        `{"lifecyclestage": "customer"}`). Enforced on writes through 2026-09 paths and later.
        """
        self._state.require_property(name, when)

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
        raw_body: str | None = None,
        content_type: str = "text/html",
    ) -> None:
        """Make the next `times` requests whose path ends with path_suffix fail this way.

        `delay` sleeps before handling (and before a status or a drop, when combined).
        `raw_body` answers `status` with that text as `content_type` and none of HubSpot's
        marks (no correlation id): a web page from a proxy or CDN in front of HubSpot.
        """
        fault = make_fault(
            path_suffix,
            status=status,
            body=body,
            headers=headers,
            drop_connection=drop_connection,
            delay=delay,
            times=times,
            raw_body=raw_body,
            content_type=content_type,
        )
        self._state.inject(fault)

    def new_day(self) -> None:
        """Reset the daily budget, as midnight in the account's time zone does."""
        self._state.new_day()

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

    def retired_path_calls(self) -> list[RequestRecord]:
        """The recorded requests to numeric-version paths (`/oauth/v1/...`, `/crm/v3/...`)."""
        return self._state.retired_path_records()

    def stats(self) -> dict[str, Any]:
        """What `GET /_emulator/stats` shows."""
        return self._state.stats()
