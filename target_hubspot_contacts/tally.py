"""Rejected records in the log: the first few one by one, then a tally by code and property."""

from __future__ import annotations

import dataclasses
import threading
import typing as t

from target_hubspot_contacts.logvalues import problem_summary, reason_text, shown, values_shown

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.outcomes import Reason

# Rejected records logged one by one; the rest are only counted in the tally.
LOGGED_ONE_BY_ONE = 10


@dataclasses.dataclass
class _Row:
    """Records rejected for one code and property, with the first one's value or message."""

    code: str
    property: str | None
    field: str | None
    example: str  # a value as the log shows it, or else a message
    example_is_value: bool
    records: int = 0

    def line(self) -> str:
        where = f" {self.property}" if self.property else ""
        if self.field and self.field != self.property:
            where += f" (field '{self.field}')"
        example = f", e.g. {self.example}" if self.example_is_value else f": {self.example}"
        return f"{self.records} {self.code}{where}{example}"


class RejectTally:
    """Logs the first rejected records one by one and counts every one by code and property."""

    def __init__(self, logger: logging.Logger, *, dry_run: bool = False) -> None:
        self._logger = logger
        self._verb = "Would reject" if dry_run else "Rejected"  # a dry run rejects nothing
        self._rows: dict[tuple[str, str | None, str | None], _Row] = {}
        self._rejected = 0
        self._lock = threading.Lock()

    def add(self, stream: str, record_ref: str, reason: Reason) -> None:
        """Count one rejected record (`record_ref` says which, see logvalues.py); log it while
        fewer than LOGGED_ONE_BY_ONE were."""
        with self._lock:
            self._rejected += 1
            if self._rejected <= LOGGED_ONE_BY_ONE:
                self._logger.error(
                    "%s record from stream '%s' (%s): %s",
                    self._verb,
                    stream,
                    record_ref,
                    reason_text(reason),
                )
            for key, (example, is_value) in _tally_keys(reason).items():
                row = self._rows.get(key)
                if row is None:
                    row = self._rows[key] = _Row(*key, example, is_value)
                row.records += 1

    def report(self, kept_in: str | None, *, dry_run: bool = False) -> None:
        """Say how many rejected records were not logged, then log the tally (if any)."""
        with self._lock:
            unlogged = self._rejected - LOGGED_ONE_BY_ONE
            if unlogged > 0:
                where = f"in {kept_in}" if kept_in else "(not kept: set `rejects_path`)"
                if dry_run:
                    where = "(a dry run writes no rejects file)"
                self._logger.error("... and %d more rejected record(s) %s", unlogged, where)
            if not self._rows:
                return
            rows = sorted(self._rows.values(), key=lambda row: (-row.records, row.code))
            self._logger.warning(
                "Rejected records by code and property (a record counts once per bad value):\n%s",
                "\n".join(f"  {row.line()}" for row in rows),
            )


def _tally_keys(reason: Reason) -> dict[tuple[str, str | None, str | None], tuple[str, bool]]:
    """(code, property, field) of each bad value the reason names, with an example of it (or,
    values hidden, what is wrong with it)."""
    if not reason.problems:
        example = reason.message if values_shown() else reason_text(reason)
        return {(reason.code or "REJECTED", reason.property, reason.field): (example, False)}
    keys: dict[tuple[str, str | None, str | None], tuple[str, bool]] = {}
    for problem in reason.problems:
        key = (problem.code or "REJECTED", problem.property, problem.field)
        if not values_shown():
            keys.setdefault(key, (problem_summary(problem, reason.source), False))
        elif problem.value is None:
            keys.setdefault(key, (problem.message, False))
        else:
            keys.setdefault(key, (shown(problem.value), True))
    return keys
