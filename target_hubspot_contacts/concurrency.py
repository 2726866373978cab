"""How many calls may be in flight: enough to keep the rate window full at HubSpot's latency.

By Little's law, keeping R calls per second going at L seconds per call takes R x L calls in
flight. The controller learns L from the answers (their average plus twice their deviation, as
TCP estimates round trips, so slower calls do not starve the window), R from the rate governor,
and backs off while HubSpot struggles (5xx, 423, timeouts), growing again as answers come back.
Spare calls cost HubSpot nothing: the governor spaces calls evenly whatever waits to be sent.
"""

from __future__ import annotations

import math
import threading
import time
import typing as t

# The latency assumed until HubSpot has answered a call.
ASSUMED_LATENCY_SECONDS = 1.0
# Calls in flight beyond rate x latency: a share of them, and a few more.
HEADROOM, SPARE = 1.2, 2
# Latency estimate: weights of a new answer in the average and in the deviation (as TCP's).
AVERAGE_WEIGHT, DEVIATION_WEIGHT = 1 / 8, 1 / 4
# When HubSpot struggles the limit is cut to this share of what is in flight...
BACKOFF = 0.5
# ...at most once per round trip (later failures come from calls sent before the cut)...
MIN_CALM_SECONDS = 1.0
# ...and grows back by this many calls for each answer: x1.5 per round trip.
RECOVERY_PER_ANSWER = 0.5


class RateWindow(t.Protocol):
    """What the controller needs of the rate governor."""

    @property
    def allowed_per_window(self) -> int: ...

    @property
    def window_seconds(self) -> float: ...


class ConcurrencyController:
    """The number of calls that may be in flight right now; safe to share between threads."""

    def __init__(
        self,
        maximum: int,
        window: RateWindow,
        *,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self._window = window
        self._clock = clock
        self._average: float | None = None  # seconds per call, as HubSpot answers lately
        self._deviation = 0.0
        self._ceiling = float(self.maximum)  # lowered while HubSpot struggles
        self._calm_until = 0.0
        self._lock = threading.Lock()

    @property
    def latency(self) -> float:
        """The latency to plan for, in seconds: recent average plus twice the deviation."""
        if self._average is None:
            return ASSUMED_LATENCY_SECONDS
        return self._average + 2 * self._deviation

    def limit(self) -> int:
        """Calls that may be in flight now: rate x latency with headroom, within every bound."""
        with self._lock:
            return self._limit()

    def answered(self, latency: float) -> None:
        """HubSpot answered a call (not a 429 or a failure) after `latency` seconds."""
        with self._lock:
            if self._average is None:
                self._average, self._deviation = latency, latency / 2
            else:
                error = latency - self._average
                self._deviation += DEVIATION_WEIGHT * (abs(error) - self._deviation)
                self._average += AVERAGE_WEIGHT * error
            self._ceiling = min(float(self.maximum), self._ceiling + RECOVERY_PER_ANSWER)

    def struggled(self) -> None:
        """HubSpot failed a call (5xx, 423, timeout): halve the limit, once per round trip."""
        with self._lock:
            now = self._clock()
            if now < self._calm_until:
                return
            self._ceiling = max(1.0, self._limit() * BACKOFF)
            self._calm_until = now + max(MIN_CALM_SECONDS, self.latency)

    def _limit(self) -> int:
        allowed = self._window.allowed_per_window
        per_second = allowed / self._window.window_seconds
        wanted = math.ceil(per_second * self.latency * HEADROOM) + SPARE
        return max(1, min(wanted, self.maximum, allowed, math.floor(self._ceiling)))
