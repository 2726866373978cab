"""The progress line: while a run goes on, a `Progress:` line every `progress_interval` seconds."""

from __future__ import annotations

import functools
import math
import threading
import time
import typing as t

from target_hubspot_contacts.outcomes import figure_words

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.outcomes import CallStats, RunCounts
    from target_hubspot_contacts.ratelimit import WindowUse

DEFAULT_PROGRESS_INTERVAL = 30.0


class ProgressReporter:
    """Logs what the run has done so far, in its own thread, every `interval` seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        *,
        records_read: t.Callable[[], int],
        counts: RunCounts,
        calls: CallStats,
        window_use: t.Callable[[], WindowUse],
        dry_run: bool = False,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._records_read = records_read
        self._counts = counts
        self._calls = calls
        self._window_use = window_use
        self._dry_run = dry_run
        self._started = time.monotonic()
        self._waited_before = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def start(self) -> None:
        """Start logging, unless the interval is 0 (off)."""
        if self._interval > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop logging; no line follows once this returns."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._logger.info("%s", self.line())

    def line(self) -> str:
        """The progress line as of now."""
        counts, calls, window = self._counts, self._calls, self._window_use()
        waited = window.waited_seconds - self._waited_before
        self._waited_before = window.waited_seconds
        written = counts.created + counts.updated
        words = functools.partial(figure_words, dry_run=self._dry_run)
        others = [
            f"{value:,} {name}"
            for name, value in (
                ("created unconfirmed", counts.created_unconfirmed),
                (words("unchanged"), counts.unchanged),
                (words("archived"), counts.archived),
                (words("not_found_to_archive"), counts.not_found_to_archive),
                (words("skipped"), counts.skipped),
                ("merged", counts.merged),
            )
            if value
        ]
        dry_run = "dry run, " if self._dry_run else ""
        return (
            f"Progress: {dry_run}{self._records_read():,} records read in "
            f"{time.monotonic() - self._started:.0f} s; {written:,} contacts "
            f"{'would be written' if self._dry_run else 'written'} "
            f"({counts.created:,} created, {counts.updated:,} updated), "
            f"{counts.rejected:,} {words('rejected')}"
            + "".join(f", {other}" for other in others)
            + f"; {calls.calls:,} API calls; {window_words(window, waited)}."
        )


def window_words(window: WindowUse, waited: float) -> str:
    """The rate window in use (ours, and the app's other work as HubSpot shows it) and whether
    calls wait for it: for room, or out a pause a 429 asked for (`waited`: since the last line).
    """
    in_use = f"rate window {window.calls}/{window.calls_per_window} calls per "
    in_use += f"{window.window_seconds:g} s in use"
    if window.others:
        in_use += f", about {window.others:,} more by the app's other work"
    if window.waiting and window.paused_seconds > 0:
        paused = math.ceil(window.paused_seconds * 10) / 10
        wait = f"waiting for room now: paused {paused:.1f} s more, as a 429 asked"
    elif window.waiting:
        wait = "waiting for room now"
    elif waited >= 0.05:
        wait = f"not waiting now, waited {waited:.1f} s since the last line"
    else:
        wait = "not waiting"
    return f"{in_use}, {wait}"
