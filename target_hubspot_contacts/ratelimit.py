"""Pacing of API calls to the account's rolling-window limit, learnt from HubSpot's headers."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import typing as t

# Until HubSpot's headers say otherwise, assume the smallest published limit.
DEFAULT_CALLS_PER_WINDOW = 100
DEFAULT_WINDOW_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class WindowUse:
    """How much of the rolling window is in use right now, and whether calls wait for room."""

    calls: int  # in flight, or answered within the window
    calls_per_window: int
    window_seconds: float
    waiting: bool  # a call is held until the window has room (or a 429 pause ends)
    waited_seconds: float  # time calls have spent held, in all, since the run began


class RateGovernor:
    """Lets a call start only while the rolling window has room for it.

    A finished call is counted from the moment its answer arrived, which is never earlier
    than HubSpot counted it; a call in flight is counted already. So this side's tally is
    never below HubSpot's, whatever the latency.
    """

    def __init__(
        self,
        calls_per_window: int = DEFAULT_CALLS_PER_WINDOW,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self.calls_per_window = calls_per_window
        self.window_seconds = window_seconds
        self._finished_at: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._waiting = 0  # calls held in acquire() now
        self._waited = 0.0  # seconds calls were held, in all
        self._condition = threading.Condition()

    def acquire(self) -> None:
        """Block until one more call fits in the window, then count it as in flight."""
        with self._condition:
            if self._wait_needed() > 0:
                held_since = time.monotonic()
                self._waiting += 1
                try:
                    while (wait := self._wait_needed()) > 0:
                        self._condition.wait(timeout=wait)
                finally:
                    self._waiting -= 1
                    self._waited += time.monotonic() - held_since
            self._in_flight += 1

    def window_use(self) -> WindowUse:
        """How much of the window is in use now (for the progress line)."""
        with self._condition:
            self._forget_calls_before(time.monotonic() - self.window_seconds)
            return WindowUse(
                calls=self._in_flight + len(self._finished_at),
                calls_per_window=self.calls_per_window,
                window_seconds=self.window_seconds,
                waiting=self._waiting > 0,
                waited_seconds=self._waited,
            )

    def release(self, headers: t.Mapping[str, str] | None = None) -> None:
        """Count a finished call and learn the window from its response headers."""
        with self._condition:
            self._in_flight -= 1
            self._finished_at.append(time.monotonic())
            if headers:
                self._learn(headers)
            self._condition.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every new call for `seconds` (after a 429)."""
        with self._condition:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_needed(self) -> float:
        now = time.monotonic()
        if self._paused_until > now:
            return self._paused_until - now
        horizon = now - self.window_seconds
        self._forget_calls_before(horizon)
        if self._in_flight + len(self._finished_at) < self.calls_per_window:
            return 0.0
        if self._finished_at:
            return self._finished_at[0] - horizon
        return self.window_seconds  # every slot is in flight: woken by release()

    def _forget_calls_before(self, horizon: float) -> None:
        while self._finished_at and self._finished_at[0] <= horizon:
            self._finished_at.popleft()

    def _learn(self, headers: t.Mapping[str, str]) -> None:
        limit = _int_header(headers, "X-HubSpot-RateLimit-Max")
        interval_ms = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if limit and limit > 0:
            self.calls_per_window = limit
        if interval_ms and interval_ms > 0:
            self.window_seconds = interval_ms / 1000
        remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
        if remaining == 0:
            # Another client shares the budget: our own tally cannot see its calls.
            self._paused_until = max(
                self._paused_until, time.monotonic() + self.window_seconds / self.calls_per_window
            )


def _int_header(headers: t.Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
