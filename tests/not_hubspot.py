"""Servers that are not HubSpot, for tests of a wrong `api_url`: a web page, a 404, a redirect,
a port that hangs up, one that speaks only TLS; a proxy; and network faults (DNS, routes) for
the target's process."""

from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import socket
import ssl
import threading
import typing as t
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import clean_env

NETWORK_FAULTS_DIR = pathlib.Path(__file__).parent / "network_faults"
# A self-signed certificate for 127.0.0.1 and its key, made for these tests only.
TLS_DIR = pathlib.Path(__file__).parent / "fixtures" / "tls"
TLS_HANDSHAKE_RECORD = b"\x16\x03"  # how every TLS connection opens


class FixedReply(t.NamedTuple):
    """What the server answers to every request."""

    status: int
    body: bytes = b""
    content_type: str = "text/html"
    headers: tuple[tuple[str, str], ...] = ()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, *args: object) -> None:
        pass


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with the given handler, while in a `with` block."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> t.Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class NotHubSpot(LoopbackServer):
    """A loopback HTTP server answering every request the same way; it counts the requests."""

    def __init__(self, reply: FixedReply) -> None:
        self.reply = reply
        self.requests: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                outer.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(outer.reply.status)
                self.send_header("Content-Type", outer.reply.content_type)
                self.send_header("Content-Length", str(len(outer.reply.body)))
                for name, value in outer.reply.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(outer.reply.body)

            do_GET = do_POST = _answer  # noqa: N815

        super().__init__(Handler)


@contextlib.contextmanager
def not_hubspot(status: int, body: bytes = b"", **options: t.Any) -> t.Iterator[NotHubSpot]:
    """A server that answers every call with `status` and `body`."""
    with NotHubSpot(FixedReply(status, body, **options)) as server:
        yield server


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class HangUpServer:
    """A TCP server that hangs up without an HTTP answer: on every connection, or (`tls`) as a
    TLS-only port does, completing TLS handshakes and dropping plain HTTP. It counts the
    connections that brought plain HTTP (`http_requests`) and the TLS handshakes."""

    def __init__(self, *, tls: bool = False) -> None:
        self.http_requests = 0
        self.tls_handshakes = 0
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) if tls else None
        if self._tls is not None:
            self._tls.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                connection.settimeout(5)
                self._hang_up(connection)

    def _hang_up(self, connection: socket.socket) -> None:
        """Read what the connection brings and close it (after a TLS handshake, in TLS mode)."""
        opening = connection.recv(2, socket.MSG_PEEK)
        if opening == TLS_HANDSHAKE_RECORD:
            self.tls_handshakes += 1
        elif opening:
            self.http_requests += 1
        if self._tls is None:
            connection.recv(65536)
        else:
            self._tls.wrap_socket(connection, server_side=True).close()

    def __enter__(self) -> HangUpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()


class ForwardingProxy(LoopbackServer):
    """An HTTP proxy (as HTTP_PROXY names one) that passes each request on to its absolute URL
    and notes the URLs it was asked for."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def _forward(self) -> None:
                outer.requested.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urllib.parse.urlsplit(self.path)
                upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                path = url.path + (f"?{url.query}" if url.query else "")
                upstream.request(self.command, path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = _forward  # noqa: N815

        super().__init__(Handler)


def network_faults(faults: dict[str, dict]) -> dict[str, str]:
    """Environment for the target under which looking up or connecting to the given hosts
    fails as described (see tests/network_faults/sitecustomize.py), e.g.
    `network_faults({"flaky.test": {"name": "EAI_AGAIN", "times": 1}})`."""
    return clean_env(PYTHONPATH=str(NETWORK_FAULTS_DIR), TEST_NETWORK_FAULTS=json.dumps(faults))
