"""Retrying transient failures of HubSpot calls: backoff with jitter, Retry-After, a time budget."""

from __future__ import annotations

import email.utils
import itertools
import math
import random
import threading
import time
import typing as t

import backoff
import requests

from target_hubspot_contacts.errors import CallAbandoned, HubSpotAPIError
from target_hubspot_contacts.logvalues import NOT_SHOWN
from target_hubspot_contacts.outcomes import CallStats

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Generator


class FirstContact(t.Protocol):
    """What a retry loop needs of `reach.Reach`: a budget until HubSpot first answers."""

    def first_contact_deadline(self, now: float, max_retry_seconds: float) -> float | None: ...

    def kept_failing(self, what: str, seconds: float, last: str) -> HubSpotAPIError: ...


RETRYABLE_STATUSES = frozenset({423, 429, 477, 500, 502, 503, 504, 521, 523, 524})
TRANSIENT_REQUEST_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # the answer was cut off mid-body
    requests.exceptions.ContentDecodingError,
)
# Answers after which HubSpot may have done the work: the request reached it, the answer did not.
MAYBE_PROCESSED_STATUSES = frozenset({500, 502, 504, 521, 523, 524})
LOCKED_MIN_WAIT_SECONDS = 2.0

T = t.TypeVar("T")


class RetryableError(Exception):
    """A transient failure; carries HubSpot's hint of how long to wait, if any."""

    def __init__(
        self, description: str, *, retry_after: float | None = None, maybe_processed: bool = False
    ) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after
        self.maybe_processed = maybe_processed  # HubSpot may have done it; the answer was lost


class Retrier:
    """Runs a call again while it fails with `RetryableError`, within `max_retry_seconds`.

    One per run, shared by every thread and by the OAuth token refresh; it keeps the run's
    call counters. A call made while another is retried in the same thread (the token refresh
    inside a call) shares that call's deadline: budgets never add up.
    """

    def __init__(
        self,
        *,
        max_retry_seconds: float,
        logger: logging.Logger,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_retry_seconds = max_retry_seconds
        self._clock = clock
        self.stats = CallStats()
        self._logger = logger
        self._stats_lock = threading.Lock()
        self._abandoned = threading.Event()
        self._on_abandon: list[t.Callable[[], None]] = []
        self._deadlines = threading.local()  # the deadline of the call this thread is in

    def abandon(self) -> None:
        """From now on no call is tried (again), and a wait before a retry ends now."""
        self._abandoned.set()
        for wake in self._on_abandon:
            wake()

    def on_abandon(self, wake: t.Callable[[], None]) -> None:
        """Call `wake` when the run abandons its calls (to end other waits, say for the rate
        window); at once if it already has."""
        self._on_abandon.append(wake)
        if self._abandoned.is_set():
            wake()

    def call(
        self,
        attempt: t.Callable[[], T],
        *,
        what: str,
        advice: str,
        reach: FirstContact | None = None,
    ) -> T:
        """`attempt()`, retried with backoff; once the budget is spent, an error saying so.
        Before HubSpot at `api_url` has ever answered (`reach`), only its first-contact budget.

        The delays are python-backoff's, but the waits are this loop's own: backoff's
        decorators wait with `time.sleep`, which a signal cannot end in a worker thread.
        """
        started = self._clock()
        outer_deadline = getattr(self._deadlines, "at", math.inf)
        deadline = min(started + self.max_retry_seconds, outer_deadline)
        self._deadlines.at = deadline
        try:
            return self._retried(
                attempt, what=what, advice=advice, reach=reach, started=started, deadline=deadline
            )
        finally:
            self._deadlines.at = outer_deadline

    def _retried(
        self,
        attempt: t.Callable[[], T],
        *,
        what: str,
        advice: str,
        reach: FirstContact | None,
        started: float,
        deadline: float,
    ) -> T:
        waits = wait_times()
        next(waits)
        for tries in itertools.count(1):
            if self._abandoned.is_set():
                raise CallAbandoned(f"{what} abandoned: the run is stopping")
            try:
                return attempt()
            except RetryableError as error:
                now = self._clock()
                if self._abandoned.is_set():
                    raise CallAbandoned(f"{what} abandoned: {error.description}") from None
                first_contact = (
                    reach.first_contact_deadline(now, self.max_retry_seconds) if reach else None
                )
                give_up_at = min(deadline, first_contact or math.inf)
                if now >= give_up_at:
                    self._logger.error(
                        "HubSpot call failed (%s) after %d tries in %.0f s.",
                        error.description,
                        tries,
                        now - started,
                    )
                    if first_contact is not None and reach is not None:  # HubSpot never answered
                        raise reach.kept_failing(what, now - started, error.description) from None
                    msg = (
                        f"HubSpot kept failing {what} (last: {error.description}; see the "
                        f"retries logged above); giving up: the retry budget, "
                        f"`max_retry_seconds` ({self.max_retry_seconds:g} s), is spent. {advice}"
                    )
                    raise HubSpotAPIError(msg) from None
                wait = min(waits.send(error), give_up_at - now)
                self.count("retries")
                self._logger.warning(
                    "HubSpot call failed (%s); retry %d in %.1f s.", error.description, tries, wait
                )
                if self._abandoned.wait(wait):
                    raise CallAbandoned(f"{what} abandoned: {error.description}") from None
        raise AssertionError  # unreachable: the loop returns or raises

    def retry_after(self, response: requests.Response, status: int) -> float | None:
        """HubSpot's hint of how long to wait, never past the whole retry budget."""
        hint = _retry_after(response, status)
        return None if hint is None else min(hint, self.max_retry_seconds)

    def count(self, counter: str) -> None:
        """Add one to a counter of `stats`."""
        with self._stats_lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)


def wait_times(cap: float = 60.0) -> Generator[float, RetryableError | None, None]:
    """Exponential backoff with full jitter (python-backoff's); HubSpot's own hint wins."""
    delays = backoff.expo(max_value=cap)
    next(delays)  # the generator's priming value
    error = yield 0.0
    while True:
        hint = error.retry_after if error is not None else None
        if hint is not None:
            error = yield hint + random.uniform(0, 0.25)  # noqa: S311
        else:
            error = yield backoff.full_jitter(next(delays))


def error_category(body: t.Any) -> str | None:
    """HubSpot's error category (`category`, or `errorType` on some 429s)."""
    if not isinstance(body, dict):
        return None
    return body.get("category") or body.get("errorType")


def describe_failure(
    status: int, body: t.Any, correlation_id: str | None, *, quote_message: bool = True
) -> str:
    """`503 SERVICE_UNAVAILABLE: message [correlation id ...]`, for logs and errors; HubSpot's
    message is left out unless `quote_message`."""
    parts = [str(status)]
    if category := error_category(body):
        parts.append(category)
    if isinstance(body, dict) and body.get("policyName"):
        parts.append(body["policyName"])
    message = body.get("message") if isinstance(body, dict) else None
    if message and not quote_message:
        parts.append(f"(HubSpot's message is {NOT_SHOWN})")
        message = None
    text = " ".join(parts) + (f": {message}" if message else "")
    return f"{text} [correlation id {correlation_id}]" if correlation_id else text


def _retry_after(response: requests.Response, status: int) -> float | None:
    """Seconds HubSpot asks to wait (a number or an HTTP date); None if absent or nonsense."""
    seconds = _seconds_from_header(response.headers.get("Retry-After"))
    if status == 423:
        return max(seconds or 0.0, LOCKED_MIN_WAIT_SECONDS)
    return seconds


def _seconds_from_header(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None
