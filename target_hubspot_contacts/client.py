"""HTTP to HubSpot: auth headers, pacing, retries, and turning error answers into named errors."""

from __future__ import annotations

import dataclasses
import random
import threading
import typing as t

import backoff
import requests

from target_hubspot_contacts.errors import (
    AuthenticationError,
    DailyLimitError,
    HubSpotAPIError,
    MissingScopesError,
)
from target_hubspot_contacts.ratelimit import RateGovernor

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Generator

    from target_hubspot_contacts.auth import OAuthToken, StaticToken

PROPERTIES_PATH = "/crm/v3/properties/contacts"
RETRYABLE_STATUSES = frozenset({423, 429, 477, 500, 502, 503, 504, 521, 523, 524})
TRANSIENT_REQUEST_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # the answer was cut off mid-body
    requests.exceptions.ContentDecodingError,
)
LOCKED_MIN_WAIT_SECONDS = 2.0


@dataclasses.dataclass
class CallStats:
    """Counters of HTTP activity, for the run summary and metrics."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful (2xx) HubSpot answer."""

    status: int
    body: t.Any
    correlation_id: str | None


class RejectedCallError(HubSpotAPIError):
    """HubSpot refused the whole call (a 4xx that retrying cannot fix)."""

    def __init__(self, message: str, *, status: int, body: t.Any, correlation_id: str | None):
        super().__init__(message, status=status, body=body)
        self.correlation_id = correlation_id

    @property
    def category(self) -> str | None:
        """HubSpot's error category, such as VALIDATION_ERROR."""
        return self.body.get("category") if isinstance(self.body, dict) else None


class _RetryableError(Exception):
    """A transient failure; carries HubSpot's hint of how long to wait, if any."""

    def __init__(self, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


class HubSpotClient:
    """Talks to one HubSpot account; safe to share between threads."""

    def __init__(
        self,
        *,
        api_url: str,
        token: StaticToken | OAuthToken,
        logger: logging.Logger,
        timeout: float = 60.0,
        max_retry_seconds: float = 600.0,
        governor: RateGovernor | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.stats = CallStats()
        self._token = token
        self._logger = logger
        self._timeout = timeout
        self._max_retry_seconds = max_retry_seconds
        self._governor = governor or RateGovernor()
        self._local = threading.local()
        self._stats_lock = threading.Lock()

    def contact_properties(self) -> list[dict]:
        """The portal's contact property definitions."""
        return self.request("GET", PROPERTIES_PATH).body.get("results", [])

    def create_contact_property(self, definition: dict) -> dict:
        """Create a custom contact property and return its definition."""
        return self.request("POST", PROPERTIES_PATH, json=definition).body

    def request(self, method: str, path: str, *, json: t.Any = None) -> Answer:
        """Send one API call, retrying transient failures within the retry budget."""
        send = backoff.on_exception(
            _wait_times,
            _RetryableError,
            max_time=self._max_retry_seconds,
            jitter=None,
            on_backoff=self._log_retry,
            on_giveup=self._log_giveup,
            raise_on_giveup=False,
        )(self._send_once)
        answer = send(method, path, json)
        if answer is None:
            msg = (
                f"HubSpot kept failing {method} {path} for {self._max_retry_seconds:.0f} s "
                "(see the retries logged above); giving up. Rerun later, or raise "
                "`max_retry_seconds`."
            )
            raise HubSpotAPIError(msg)
        return answer

    def _send_once(self, method: str, path: str, json: t.Any) -> Answer:
        authorization = self._token.authorization()
        self._governor.acquire()
        response = None
        try:
            session, environment = self._session()
            request = requests.Request(
                method, self.api_url + path, json=json, headers={"Authorization": authorization}
            )
            response = session.send(
                session.prepare_request(request), timeout=self._timeout, **environment
            )
        except TRANSIENT_REQUEST_ERRORS as exc:
            raise _RetryableError(f"{type(exc).__name__} talking to {self.api_url}") from None
        except requests.RequestException as exc:
            # Only the type: the message of e.g. InvalidHeader quotes the Authorization header.
            msg = f"Could not send {method} {path} to {self.api_url}: {type(exc).__name__}."
            raise HubSpotAPIError(msg) from None
        finally:
            self._governor.release(response.headers if response is not None else None)
            self._count("calls")
        return self._interpret(response, authorization)

    def _interpret(self, response: requests.Response, authorization: str) -> Answer:
        status = response.status_code
        body = _json_body(response)
        correlation_id = response.headers.get("x-hubspot-correlation-id")
        if 200 <= status < 300:
            return Answer(status, body, correlation_id)
        where = f"{response.request.method} {response.request.path_url}"
        detail = _describe(status, body, correlation_id)
        if status == 429:
            self._count("rate_limited")
            return self._rate_limited(response, body, detail)
        if status in RETRYABLE_STATUSES:
            raise _RetryableError(detail, retry_after=self._retry_after(response, status))
        if status == 401:
            if _category(body) == "EXPIRED_AUTHENTICATION":
                self._token.renew(authorization)
                raise _RetryableError(detail, retry_after=0.0)
            msg = (
                f"HubSpot rejected {self._token.describe()} on {where} ({detail}). The token "
                "is wrong, revoked or expired: check the credentials in the settings."
            )
            raise AuthenticationError(msg)
        if status == 403 and _category(body) == "MISSING_SCOPES":
            scopes = _missing_scopes(body)
            msg = (
                f"The HubSpot credentials lack the scope(s) {', '.join(scopes) or '(not named)'} "
                f"needed for {where}. Add them to the private app (or re-authorize the OAuth "
                f"app with them) and rerun. ({detail})"
            )
            raise MissingScopesError(scopes, msg)
        msg = f"HubSpot refused {where}: {detail}"
        raise RejectedCallError(msg, status=status, body=body, correlation_id=correlation_id)

    def _rate_limited(self, response: requests.Response, body: t.Any, detail: str) -> t.NoReturn:
        policy = body.get("policyName") if isinstance(body, dict) else None
        if policy == "DAILY":
            msg = (
                "HubSpot's daily API limit for this account is spent (429 DAILY). It resets at "
                "midnight in the account's time zone; rerun then from the last STATE. "
                f"({detail})"
            )
            raise DailyLimitError(msg)
        wait = self._retry_after(response, 429)
        if wait is None:
            wait = self._governor.window_seconds
        self._governor.pause(wait)
        raise _RetryableError(detail, retry_after=wait)

    def _retry_after(self, response: requests.Response, status: int) -> float | None:
        """HubSpot's hint of how long to wait, never past the whole retry budget."""
        hint = _retry_after(response, status)
        return None if hint is None else min(hint, self._max_retry_seconds)

    def _session(self) -> tuple[requests.Session, dict]:
        """This thread's session, and the proxy and TLS settings it takes from the environment.

        `Session.request` would look those up on every call, a third of its CPU time.
        """
        if not hasattr(self._local, "session"):
            session = requests.Session()
            environment = session.merge_environment_settings(self.api_url, {}, None, None, None)
            self._local.session = (session, environment)
        return self._local.session

    def _count(self, counter: str) -> None:
        with self._stats_lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    def _log_retry(self, details: dict) -> None:
        self._count("retries")
        self._logger.warning(
            "HubSpot call failed (%s); retry %d in %.1f s.",
            details["exception"].description,
            details["tries"],
            details["wait"],
        )

    def _log_giveup(self, details: dict) -> None:
        self._logger.error(
            "HubSpot call failed (%s) after %d tries in %.0f s.",
            details["exception"].description,
            details["tries"],
            details["elapsed"],
        )


def _wait_times(
    base: float = 1.0, cap: float = 60.0
) -> Generator[float, _RetryableError | None, None]:
    """Exponential backoff with full jitter; HubSpot's own hint wins when it gives one."""
    attempt = 0
    error = yield 0.0
    while True:
        hint = error.retry_after if error is not None else None
        if hint is not None:
            error = yield hint + random.uniform(0, 0.25)  # noqa: S311
        else:
            error = yield random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311
            attempt += 1


def _json_body(response: requests.Response) -> t.Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}


def _category(body: t.Any) -> str | None:
    if not isinstance(body, dict):
        return None
    return body.get("category") or body.get("errorType")


def _describe(status: int, body: t.Any, correlation_id: str | None) -> str:
    parts = [str(status)]
    if category := _category(body):
        parts.append(category)
    if isinstance(body, dict) and body.get("policyName"):
        parts.append(body["policyName"])
    message = body.get("message") if isinstance(body, dict) else None
    text = " ".join(parts) + (f": {message}" if message else "")
    return f"{text} [correlation id {correlation_id}]" if correlation_id else text


def _retry_after(response: requests.Response, status: int) -> float | None:
    header = response.headers.get("Retry-After")
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        seconds = None
    if status == 423:
        return max(seconds or 0.0, LOCKED_MIN_WAIT_SECONDS)
    return seconds


def _missing_scopes(body: t.Any) -> list[str]:
    scopes: list[str] = []
    context = body.get("context") or {}
    scopes.extend(context.get("missingScopes") or [])
    for error in body.get("errors") or []:
        scopes.extend((error.get("context") or {}).get("requiredGranularScopes") or [])
    return list(dict.fromkeys(scopes))
