"""Pacing of API calls to the account's limits, learnt from HubSpot's `X-HubSpot-RateLimit-*`.

The rolling window: HubSpot counts a call when it receives it, so a call is counted here from
the moment it is sent, for the window plus a small margin (the request reaches HubSpot a little
after it leaves). Calls are spread evenly over the window rather than sent in bursts: a rolling
window replays the shape of its first burst forever, leaving no slack for a late call, while
even spacing keeps the calls in flight below what they could carry. Each answer's `-Remaining`
shows how many calls of its window were not ours (the app's other work), and a 429 shows the
window full: both shrink the room left to us. The daily budget: `-Daily` and `-Daily-Remaining`
tell how many calls the account has left today.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import math
import threading
import time
import typing as t

from target_hubspot_contacts.errors import CallAbandoned, DailyReserveError

if t.TYPE_CHECKING:
    import logging

# Until HubSpot's headers say otherwise, assume the smallest published limit.
DEFAULT_CALLS_PER_WINDOW = 100
DEFAULT_WINDOW_SECONDS = 10.0
# A call is counted this much longer than the window, for the time it takes to reach HubSpot;
# each 429 widens the margin (requests reach HubSpot more unevenly than it allowed for).
WINDOW_MARGIN_SHARE = 0.01
MARGIN_SHARE_PER_429, MAX_WINDOW_MARGIN_SHARE = 0.005, 0.05
MIN_WINDOW_MARGIN_SECONDS = 0.1
# Calls that fell behind the even spacing may catch up this share of the window at once.
CATCH_UP_SHARE = 0.1
# Send times are kept this many windows back, to count ours in the window of a slow answer.
HISTORY_WINDOWS = 3

MAX_HEADER = "X-HubSpot-RateLimit-Max"
REMAINING_HEADER = "X-HubSpot-RateLimit-Remaining"
INTERVAL_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
DAILY_HEADER = "X-HubSpot-RateLimit-Daily"
DAILY_REMAINING_HEADER = "X-HubSpot-RateLimit-Daily-Remaining"


@dataclasses.dataclass(frozen=True)
class Ticket:
    """One call let through: when it was sent, and how many calls this run had sent by then."""

    sent_at: float
    number: int  # 1 for the run's first call


@dataclasses.dataclass(frozen=True)
class WindowUse:
    """How much of the rolling window is in use right now, and whether calls wait for room."""

    calls: int  # ours sent within the window
    calls_per_window: int  # ours allowed (`rate_limit_share` of the app's limit)
    window_seconds: float
    waiting: bool  # a call is held until the window has room (or a 429 pause ends)
    waited_seconds: float  # time the first call in line has spent held, in all, since the start
    others: int = 0  # the window's calls that were not ours, as HubSpot's answers (or a 429) show
    paused_seconds: float = 0.0  # left of the pause a 429's Retry-After asked for


class RateGovernor:
    """Lets a call start only while the rolling window (and the daily budget) has room for it.

    Safe to share between threads: `acquire` before sending, `release` once answered.
    """

    def __init__(
        self,
        *,
        share: float = 1.0,
        daily: DailyBudget | None = None,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.calls_per_window = DEFAULT_CALLS_PER_WINDOW  # the app's limit, as HubSpot reports it
        self.window_seconds = DEFAULT_WINDOW_SECONDS
        self._share = share
        self._margin_share = WINDOW_MARGIN_SHARE
        self._daily = daily
        self._clock = clock
        self._sent_at: list[float] = []  # our calls' send times, oldest first
        self._history_since = -math.inf  # sends before this are forgotten
        self._sent = 0  # calls sent this run
        self._due_at: float | None = None  # when the next call is due on the even spacing
        self._others = _RecentMaximum()  # calls in the window that were not ours
        self._paused_until = 0.0
        self._waiting: collections.deque[object] = collections.deque()  # calls in line
        self._waited = 0.0  # seconds the first call in line was held, in all
        self._abandoned = False  # the run is stopping: no call starts any more
        self._condition = threading.Condition()

    @property
    def allowed_per_window(self) -> int:
        """Calls per window this run may make: `rate_limit_share` of the app's limit."""
        return max(1, math.floor(self._share * self.calls_per_window))

    @property
    def spacing_seconds(self) -> float:
        """The even spacing of calls that fits `allowed_per_window` in the counted window."""
        return (self.window_seconds + self.margin_seconds) / self.allowed_per_window

    @property
    def margin_seconds(self) -> float:
        """How much longer than the window a call is counted."""
        return max(MIN_WINDOW_MARGIN_SECONDS, self._margin_share * self.window_seconds)

    def acquire(self) -> Ticket:
        """Block until one more call fits, then count it as sent; first come, first served,
        so calls go out in the order they were formed and STATE moves on steadily.

        Raises DailyReserveError when the call would spend the daily budget's reserve, and
        CallAbandoned once the run abandons its calls.
        """
        place = object()
        with self._condition:
            self._waiting.append(place)
            try:
                while True:
                    if self._abandoned:
                        raise CallAbandoned("a call waiting for room in the rate window abandoned")
                    if self._daily is not None:
                        self._daily.check(self._sent)
                    if self._waiting[0] is not place:
                        self._condition.wait()  # for the calls ahead in line
                        continue
                    wait = self.seconds_until_room()
                    if wait <= 0:
                        break
                    held_since = self._clock()
                    self._condition.wait(timeout=wait)
                    self._waited += self._clock() - held_since
            finally:
                self._waiting.remove(place)
                self._condition.notify_all()  # the next in line
            now = self._clock()
            self._sent_at.append(now)
            self._sent += 1
            catch_up = CATCH_UP_SHARE * self.window_seconds
            due = now if self._due_at is None else max(self._due_at, now - catch_up)
            self._due_at = due + self.spacing_seconds
            return Ticket(now, self._sent)

    def abandon(self) -> None:
        """The run is stopping: calls waiting for room give up, and no call starts any more."""
        with self._condition:
            self._abandoned = True
            self._condition.notify_all()

    def window_use(self) -> WindowUse:
        """How much of the window is in use now (for the progress line)."""
        with self._condition:
            now = self._clock()
            horizon = now - self.window_seconds
            ours = len(self._sent_at) - bisect.bisect_right(self._sent_at, horizon)
            # A 429 reads as one call more than the window holds: show it full, not over.
            others = min(self._others.value(horizon), max(0, self.calls_per_window - ours))
            return WindowUse(
                calls=ours,
                calls_per_window=self.allowed_per_window,
                window_seconds=self.window_seconds,
                waiting=bool(self._waiting),
                waited_seconds=self._waited,
                others=others,
                paused_seconds=max(0.0, self._paused_until - now),
            )

    def release(
        self, ticket: Ticket, headers: t.Mapping[str, str] | None, *, refused: bool = False
    ) -> None:
        """Learn from a call's answer (`refused`: a 429 said the window was full)."""
        with self._condition:
            now = self._clock()
            if headers:
                self._learn_window(headers)
                if self._daily is not None:
                    self._daily.learn(ticket.number, headers)
            if refused:
                self._margin_share = min(
                    MAX_WINDOW_MARGIN_SHARE, self._margin_share + MARGIN_SHARE_PER_429
                )
            remaining = -1 if refused else _int_header(headers or {}, REMAINING_HEADER)
            if remaining is not None:
                self._learn_others(ticket, remaining, now)
            self._forget_old_calls(now)
            self._condition.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every new call for `seconds` (HubSpot's Retry-After on a 429)."""
        with self._condition:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def seconds_until_room(self) -> float:
        """How long until one more call fits in the window (0: it fits now)."""
        with self._condition:  # reentrant: acquire() calls it holding the lock
            now = self._clock()
            if self._paused_until > now:
                return self._paused_until - now
            if self._due_at is not None and self._due_at > now:
                return self._due_at - now
            horizon = now - self.window_seconds - self.margin_seconds
            first_in_window = bisect.bisect_right(self._sent_at, horizon)
            ours = len(self._sent_at) - first_in_window
            others = self._others.value(now - self.window_seconds)
            if ours < min(self.allowed_per_window, self.calls_per_window - others):
                return 0.0
            if ours > 0:  # the oldest of ours leaves the window, or the others estimate fades
                return self._sent_at[first_in_window] - horizon
            return self._others.fades_at(self.window_seconds) - now

    def _learn_window(self, headers: t.Mapping[str, str]) -> None:
        limit = _int_header(headers, MAX_HEADER)
        interval_ms = _int_header(headers, INTERVAL_HEADER)
        if limit and limit > 0:
            self.calls_per_window = limit
        if interval_ms and interval_ms > 0:
            self.window_seconds = interval_ms / 1000

    def _learn_others(self, ticket: Ticket, remaining: int, now: float) -> None:
        """HubSpot's window held `limit - remaining` calls when it counted this one: the ones
        not ours belong to the app's other work. Ours sent just after it may have arrived
        first, so they count as ours (an estimate too low is corrected by a 429)."""
        start = ticket.sent_at - self.window_seconds
        if start < self._history_since:
            return  # an answer slower than the history kept: ours in its window are unknown
        first = bisect.bisect_right(self._sent_at, start)
        last = bisect.bisect_right(self._sent_at, ticket.sent_at + self.margin_seconds)
        others = self.calls_per_window - remaining - (last - first)
        self._others.add(now, max(0, others))

    def _forget_old_calls(self, now: float) -> None:
        horizon = now - HISTORY_WINDOWS * self.window_seconds
        old = bisect.bisect_right(self._sent_at, horizon)
        if old:
            del self._sent_at[:old]
            self._history_since = horizon


class DailyBudget:
    """Stops calls before the account's daily budget falls below `reserve` of its daily limit.

    Each answer's `-Daily-Remaining` counts the calls HubSpot had received by then; every call
    sent after the one it answers (in flight or not yet reported) is taken as spent too.
    """

    def __init__(self, reserve: float, logger: logging.Logger) -> None:
        self.reserve = reserve
        self._logger = logger
        self._limit: int | None = None
        self._remaining = 0  # as reported in the answer to call number `_reported_by`
        self._reported_by = 0
        self._warned = False

    def check(self, sent: int) -> None:
        """Raise DailyReserveError if one more call would spend the reserve."""
        if self._limit is None:
            return
        reserved = math.ceil(self.reserve * self._limit)
        left = self._remaining - (sent - self._reported_by)
        if left - 1 < reserved:
            raise DailyReserveError(self._message(max(0, left), reserved))

    def learn(self, number: int, headers: t.Mapping[str, str]) -> None:
        """Take the daily figures from the answer to call `number`, if it is the latest sent."""
        limit = _int_header(headers, DAILY_HEADER)
        remaining = _int_header(headers, DAILY_REMAINING_HEADER)
        if limit is None or remaining is None:
            if not self._warned and MAX_HEADER in headers:
                self._warned = True
                self._logger.warning(
                    "HubSpot's answers carry no X-HubSpot-RateLimit-Daily headers, so "
                    "`daily_reserve` cannot be enforced in this run."
                )
            return
        if number >= self._reported_by:
            self._limit, self._remaining, self._reported_by = limit, remaining, number

    def _message(self, left: int, reserved: int) -> str:
        return (
            f"Stopped before the account's daily HubSpot API budget ({self._limit:,} calls a "
            f"day) falls below `daily_reserve` ({self.reserve:g}, {reserved:,} calls kept for "
            f"the portal's other integrations): {left:,} calls are left today. Calls in flight "
            "finish and STATE is printed for what they write; a later run resumes from the last "
            "STATE once the budget resets (midnight in the account's time zone), or with a "
            "lower `daily_reserve`."
        )


class _RecentMaximum:
    """The largest value added within a trailing span of time (a monotonic queue)."""

    def __init__(self) -> None:
        self._entries: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, at: float, value: int) -> None:
        """Add a value seen at time `at` (never earlier than the last one added)."""
        while self._entries and self._entries[-1][1] <= value:
            self._entries.pop()
        self._entries.append((at, value))

    def value(self, since: float) -> int:
        """The largest value added after `since` (0 if none)."""
        while self._entries and self._entries[0][0] <= since:
            self._entries.popleft()
        return self._entries[0][1] if self._entries else 0

    def fades_at(self, span: float) -> float:
        """When the current largest value falls out of a trailing `span`."""
        return self._entries[0][0] + span if self._entries else 0.0


def _int_header(headers: t.Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
