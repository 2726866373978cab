"""Servers that are not HubSpot, for tests of a wrong `api_url`: a web page, a 404, a redirect."""

from __future__ import annotations

import contextlib
import socket
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FixedReply(t.NamedTuple):
    """What the server answers to every request."""

    status: int
    body: bytes = b""
    content_type: str = "text/html"
    headers: tuple[tuple[str, str], ...] = ()


class NotHubSpot:
    """A loopback HTTP server answering every request the same way; it counts the requests."""

    def __init__(self, reply: FixedReply) -> None:
        self.reply = reply
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
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

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> NotHubSpot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


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
