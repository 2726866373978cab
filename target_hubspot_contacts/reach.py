"""Whether HubSpot at `api_url` has answered yet in this run, and what a failure to reach it means.

Before anything at `api_url` has answered as HubSpot does, a refused connection, an unknown
host, a TLS failure or an answer that is not HubSpot's says the address is wrong (or the
network is): the run stops at once, naming `api_url`. Retries are for a HubSpot that answered.
"""

from __future__ import annotations

import socket
import ssl
import threading
import typing as t

import requests

from target_hubspot_contacts.errors import ConfigurationError

# HubSpot accepts connections in well under a second; waiting longer only delays the verdict.
CONNECT_TIMEOUT_SECONDS = 10.0
HUBSPOT_API_URL = "https://api.hubapi.com"


class Reach:
    """Remembers whether HubSpot at `api_url` has answered; shared by every call of a run."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._answered = threading.Event()

    @property
    def answered(self) -> bool:
        """Whether HubSpot at `api_url` has answered a call in this run."""
        return self._answered.is_set()

    def timeout(self, request_timeout: float) -> tuple[float, float]:
        """(connect, read) timeouts for `requests`."""
        return min(request_timeout, CONNECT_TIMEOUT_SECONDS), request_timeout

    def never_reached(self, error: requests.RequestException, where: str) -> Exception | None:
        """The error that ends the run if this failure shows `api_url` is wrong; None to retry."""
        if self.answered:
            return None
        why = why_not_connected(error)
        if why is None:
            return None  # something answered the connection: a dropped or slow answer is retried
        return ConfigurationError(
            f"Could not reach HubSpot at `api_url` {self.api_url} ({where}): {why}. Nothing "
            f"was sent. Check `api_url` ({HUBSPOT_API_URL} for HubSpot) and the network."
        )

    def check_answer(self, response: requests.Response, where: str) -> None:
        """Refuse a redirect at any time, and a first answer that is not HubSpot's."""
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location") or "nowhere"
            raise ConfigurationError(
                f"`api_url` {self.api_url} answered {where} with a redirect ({status}) to "
                f"{location}. HubSpot's API never redirects: set `api_url` to the scheme and "
                f"host of HubSpot's API ({HUBSPOT_API_URL}, or the address your proxy serves)."
            )
        if self.answered:
            return
        if not _is_hubspot_answer(response):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise ConfigurationError(
                f"`api_url` {self.api_url} answered {where} with {status} ({kind}), not with "
                f"HubSpot's JSON: it is not HubSpot's API. Check `api_url` ({HUBSPOT_API_URL} "
                "for HubSpot)."
            )
        self._answered.set()


def _is_hubspot_answer(response: requests.Response) -> bool:
    """HubSpot stamps every answer with a correlation id, or at least answers in JSON."""
    if response.headers.get("x-hubspot-correlation-id"):
        return True
    if "json" not in response.headers.get("Content-Type", ""):
        return False
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def why_not_connected(error: requests.RequestException) -> str | None:
    """What kept the connection from being made, in words; None if it was made."""
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate was refused ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or "handshake failed"
            hint = " (is it http:// rather than https://?)" if "VERSION" in reason else ""
            return f"TLS failed: {reason}{hint}"
        if isinstance(cause, socket.gaierror):
            return "its host name is not known (DNS lookup failed)"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused: nothing listens at that address and port"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"no connection within {CONNECT_TIMEOUT_SECONDS:.0f} s"
    return None


def describe(error: requests.RequestException) -> str:
    """A failed call in words, without the library's internals, for logs and errors."""
    why = why_not_connected(error)
    if why is not None:
        return why
    if isinstance(error, requests.Timeout):
        return "no answer within `request_timeout`"
    cut_off = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    if isinstance(error, cut_off):
        return "the answer was cut off"
    return "the connection was closed before an answer"


def _causes(error: BaseException) -> t.Iterator[BaseException]:
    """The error and every error it wraps (requests -> urllib3 -> socket/ssl), breadth first."""
    queue, seen = [error], set()
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [*current.args, getattr(current, "reason", None)]
        wrapped += [current.__cause__, current.__context__]
        queue.extend(item for item in wrapped if isinstance(item, BaseException))
