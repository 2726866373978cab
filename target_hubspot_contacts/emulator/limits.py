"""Rate limits (rolling window and daily, with HubSpot's headers) and injected faults."""

from __future__ import annotations

import bisect
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_hubspot_contacts.emulator.oauth import PRIVATE
from target_hubspot_contacts.emulator.replies import (
    Reply,
    default_error_body,
    rate_limited,
    stamp,
)


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
    raw_body: str | None = None  # sent as is, unstamped: an answer not from HubSpot itself
    content_type: str = "text/html"  # of raw_body


def make_fault(
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
) -> Fault:
    """A checked Fault: it must fail, drop or delay, at least once; `raw_body` (with
    `content_type`) answers with a page that carries none of HubSpot's marks."""
    if status is None and not drop_connection and delay <= 0:
        raise ValueError("a fault needs a status, drop_connection=True or a delay")
    if times < 1:
        raise ValueError("times must be at least 1")
    if raw_body is not None and (status is None or body is not None):
        raise ValueError("raw_body needs a status, and replaces body")
    return Fault(
        path_suffix,
        status,
        body,
        dict(headers or {}),
        drop_connection,
        delay,
        times,
        raw_body,
        content_type,
    )


def fault_reply(fault: Fault) -> Reply:
    """The injected error answer, stamped (a body given with the fault is sent as is); a
    `raw_body` goes out unstamped, as whatever stands in front of HubSpot would send it."""
    status = fault.status or 500
    if fault.raw_body is not None:
        raw = fault.raw_body.encode("utf-8")
        return Reply(status, None, dict(fault.headers), raw=raw, content_type=fault.content_type)
    if fault.body is None:
        return stamp(Reply(status, default_error_body(status), dict(fault.headers)))
    return stamp(Reply(status, copy.deepcopy(fault.body), dict(fault.headers)), body=False)


class FaultQueue:
    """Faults waiting for matching requests, first queued first served.

    Called with `HubSpotState.lock` held.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def clear(self) -> None:
        """Forget every queued fault."""
        self._faults = []

    def add(self, fault: Fault) -> None:
        """Queue a fault for matching requests."""
        self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        """The first fault matching path, used up once its `times` run out."""
        for fault in self._faults:
            if path.endswith(fault.path_suffix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None


class RateLimits:
    """A rolling window per token kind, and a daily budget for the private-app token.

    Called with `HubSpotState.lock` held.
    """

    def __init__(self, rate_limit: int | None, interval_ms: int, daily_limit: int | None) -> None:
        self.rate_limit = rate_limit  # calls per window (None = no limit)
        self.interval_ms = interval_ms
        self.daily_limit = daily_limit  # calls per day (None = no limit)
        self.clear()

    def clear(self) -> None:
        """Empty every window and the daily count."""
        self._windows: dict[str, list[float]] = {}  # arrival times, oldest first
        self._daily_used = 0

    def new_day(self) -> None:
        """The daily budget resets, as at midnight in the account's time zone."""
        self._daily_used = 0

    def spend(self, kind: str, at: float) -> tuple[dict[str, str], Reply | None]:
        """Count one call received `at` against the budgets, or refuse it with 429 (free)."""
        window = self._window(kind, at)
        daily = kind == PRIVATE and self.daily_limit is not None
        if daily and self._daily_used >= self.daily_limit:
            return self._headers(kind, window), rate_limited(daily=True)
        if self.rate_limit is not None and len(window) >= self.rate_limit:
            return self._headers(kind, window), rate_limited(daily=False)
        bisect.insort(window, at)  # calls are counted a little out of order by threads
        if daily:
            self._daily_used += 1
        return self._headers(kind, window), None

    def _window(self, kind: str, now: float) -> list[float]:
        """The calls of this token kind inside the rolling window ending now."""
        window = self._windows.setdefault(kind, [])
        del window[: bisect.bisect_right(window, now - self.interval_ms / 1000)]
        return window

    def _headers(self, kind: str, window: list[float]) -> dict[str, str]:
        """HubSpot's `X-HubSpot-RateLimit-*` headers after this call."""
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
