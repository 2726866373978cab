"""Whether HubSpot at `api_url` has answered yet in this run, and what a failure to reach it means.

Before anything at `api_url` has answered as HubSpot does, a failure that can only mean a wrong
address (a refused connection, an unknown host, a TLS failure, no route, a redirect, an answer
that is not HubSpot's) stops the run at once, naming `api_url`. A failure that can pass (a DNS
lookup that failed for now, a 5xx page from whatever stands in front of HubSpot, a slow answer)
is retried, but only for a short first-contact budget. A connection to an http:// `api_url`
closed before any answer by a port that speaks TLS says to write https://; closed again and
again, it says the scheme or port is wrong. Full retries are for a HubSpot that answered.
"""

from __future__ import annotations

import socket
import ssl
import threading
import typing as t
import urllib.parse

import requests
import urllib3.exceptions

from target_hubspot_contacts.errors import ConfigurationError, HubSpotAPIError
from target_hubspot_contacts.retries import RETRYABLE_STATUSES, RetryableError

# HubSpot's API; the default of `api_url`.
HUBSPOT_API_URL = "https://api.hubapi.com"
# HubSpot accepts connections in well under a second; waiting longer only delays the verdict.
CONNECT_TIMEOUT_SECONDS = 10.0
# Retrying before anything at `api_url` has answered as HubSpot lasts at most this long (or
# `max_retry_seconds` if shorter): a passing failure has passed by then, a wrong address has not.
FIRST_CONTACT_SECONDS = 30.0
# How long the check whether an http:// `api_url` port speaks TLS instead may take.
TLS_PROBE_TIMEOUT_SECONDS = 5.0
# Connections closed before any answer, before HubSpot ever answered, that say "wrong address".
DROPS_BEFORE_VERDICT = 3


class Reach:
    """Remembers whether HubSpot at `api_url` has answered; shared by every call of a run."""

    def __init__(self, api_url: str) -> None:
        self.api_url = shown_url(api_url.rstrip("/"))
        self._answered = threading.Event()
        self._lock = threading.Lock()
        self._first_failure_at: float | None = None  # the first failure before any answer
        self._drops = 0  # connections closed before any answer, before HubSpot ever answered

    @property
    def answered(self) -> bool:
        """Whether HubSpot at `api_url` has answered a call in this run."""
        return self._answered.is_set()

    def timeout(self, request_timeout: float) -> tuple[float, float]:
        """(connect, read) timeouts for `requests`."""
        return min(request_timeout, CONNECT_TIMEOUT_SECONDS), request_timeout

    def failed_to_send(self, error: requests.RequestException, where: str) -> Exception:
        """What a failed request becomes: the error that ends the run if it shows `api_url` is
        wrong, else a RetryableError (`maybe_processed` unless no connection was ever made)."""
        why = why_not_connected(error)
        if not self.answered:
            if why is not None and not _is_passing(error):
                return ConfigurationError(
                    f"Could not reach HubSpot at `api_url` {self.api_url} ({where}): {why}. "
                    f"Nothing was sent. Check `api_url` ({HUBSPOT_API_URL} for HubSpot) and the "
                    "network."
                )
            if closed_before_answer(error) and (verdict := self._verdict_on_drop(where)):
                return verdict
        return RetryableError(
            f"{describe(error)}, talking to {self.api_url}", maybe_processed=why is None
        )

    def check_answer(self, response: requests.Response, where: str) -> None:
        """Refuse a redirect at any time, and a first answer that is not HubSpot's (unless it is
        a status worth retrying, such as an edge's 5xx page in front of a HubSpot outage)."""
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location") or "nowhere"
            raise ConfigurationError(
                f"`api_url` {self.api_url} answered {where} with a redirect ({status}) to "
                f"{shown_url(location)}. HubSpot's API never redirects: set `api_url` to the "
                f"scheme and host of HubSpot's API ({HUBSPOT_API_URL}, or the address your "
                "proxy serves)."
            )
        if self.answered:
            return
        if _is_hubspot_answer(response):
            self._answered.set()
            return
        if status in RETRYABLE_STATUSES:
            return  # retried within the first-contact budget
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise ConfigurationError(
            f"`api_url` {self.api_url} answered {where} with {status} ({kind}), not with "
            f"HubSpot's JSON: it is not HubSpot's API. Check `api_url` ({HUBSPOT_API_URL} "
            "for HubSpot)."
        )

    def first_contact_deadline(self, now: float, max_retry_seconds: float) -> float | None:
        """Until when a call failing before HubSpot has ever answered may be retried (None once
        it has answered): a short budget from the run's first such failure."""
        if self.answered:
            return None
        with self._lock:
            if self._first_failure_at is None:
                self._first_failure_at = now
            return self._first_failure_at + min(FIRST_CONTACT_SECONDS, max_retry_seconds)

    def kept_failing(self, what: str, seconds: float, last: str) -> HubSpotAPIError:
        """The error that ends the run when nothing at `api_url` answered as HubSpot in time."""
        return HubSpotAPIError(
            f"HubSpot (or whatever is at `api_url` {self.api_url}) kept failing {what} for "
            f"{seconds:.0f} s before answering once (last: {last}; see the retries logged "
            "above); giving up. It may be an outage at HubSpot or on the way to it: rerun later. "
            f"If this persists, check `api_url` ({HUBSPOT_API_URL} for HubSpot) and the network."
        )

    def _verdict_on_drop(self, where: str) -> ConfigurationError | None:
        """A connection closed before any answer, before HubSpot ever answered: at once if the
        http:// port speaks TLS instead, after a few such drops in any case; else None."""
        with self._lock:
            self._drops += 1
            drops = self._drops
        if drops == 1 and self._speaks_tls_instead():
            return ConfigurationError(
                f"`api_url` {self.api_url} says http://, but the server at that host and port "
                f"speaks TLS (https): it could not read {where} and hung up, so nothing reached "
                f"it as HTTP. Write `api_url` with https:// ({HUBSPOT_API_URL} for HubSpot)."
            )
        if drops < DROPS_BEFORE_VERDICT:
            return None
        return ConfigurationError(
            f"`api_url` {self.api_url} closed the connection before any answer to {where}, "
            f"{DROPS_BEFORE_VERDICT} times in a row: something listens there but does not answer "
            "HTTP as HubSpot does. Is the scheme right (http:// to a port that expects https://, "
            f"say) and the port? Check `api_url` ({HUBSPOT_API_URL} for HubSpot)."
        )

    def _speaks_tls_instead(self) -> bool:
        """Whether an http:// `api_url` (reached without a proxy) answers a TLS handshake."""
        parts = urllib.parse.urlsplit(self.api_url)
        if parts.scheme != "http" or requests.utils.get_environ_proxies(self.api_url):
            return False
        return speaks_tls(parts.hostname or "", parts.port or 80)


def shown_url(url: str) -> str:
    """`url` without any `user:password@` it holds, for messages."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def speaks_tls(host: str, port: int) -> bool:
    """Whether the server at `host:port` completes a TLS handshake (its certificate unchecked:
    nothing is sent over the connection)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=TLS_PROBE_TIMEOUT_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except ssl.SSLError as failed:
        return "ALERT" in (failed.reason or "")  # it answered in TLS, if only to refuse
    except OSError:
        return False


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
    why = next(filter(None, map(_why_socket_failed, causes)), None)
    if why is not None:
        return why
    if isinstance(error, requests.exceptions.ProxyError):
        return "the proxy set in the environment (HTTPS_PROXY, HTTP_PROXY) could not be used"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"no connection within {CONNECT_TIMEOUT_SECONDS:.0f} s"
    if any(isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in causes):
        # Any other OS error while connecting: no route to the host, network down, ...
        os_error = next((c for c in causes if isinstance(c, OSError) and c.strerror), None)
        reason = os_error.strerror.lower() if os_error is not None else "a network error"
        return f"no connection could be made ({reason})"
    return None


def _why_socket_failed(cause: BaseException) -> str | None:
    """A TLS, DNS or refused-connection failure in words; None for anything else."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"the TLS certificate was refused ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError) and not _may_follow_the_request(cause):
        reason = cause.reason or "handshake failed"
        hint = " (is it http:// rather than https://?)" if "VERSION" in reason else ""
        return f"TLS failed: {reason}{hint}"
    if isinstance(cause, socket.gaierror):
        if cause.errno == socket.EAI_AGAIN:
            return "its host name could not be looked up for now (temporary DNS failure)"
        return "its host name is not known (DNS lookup failed)"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused: nothing listens at that address and port"
    return None


def _may_follow_the_request(error: ssl.SSLError) -> bool:
    """A TLS connection closed (cleanly or not) can happen after the request went out, so it
    proves nothing about the connection; a handshake or certificate failure does."""
    closed = (ssl.SSLEOFError, ssl.SSLZeroReturnError)
    return isinstance(error, closed) or "EOF" in (error.reason or "")


def closed_before_answer(error: requests.RequestException) -> bool:
    """Whether a connection was made and then closed (or reset) before any status line came."""
    return isinstance(error, requests.ConnectionError) and why_not_connected(error) is None


def _is_passing(error: requests.RequestException) -> bool:
    """A failure to connect that says nothing about the address: DNS not ready yet."""
    return any(
        isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_AGAIN
        for cause in _causes(error)
    )


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
