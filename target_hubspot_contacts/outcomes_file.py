"""The outcomes file (`outcomes_path`): one JSON line per record read, saying what became of it.

Every record read is owed a line from the moment it is read: a run that fails or is stopped
ends by writing `not_written` lines, with the reason, for the records it owes one.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import typing as t

from target_hubspot_contacts.files import open_private_for_append
from target_hubspot_contacts.jsontext import json_text

if t.TYPE_CHECKING:
    from target_hubspot_contacts.outcomes import Reason


@dataclasses.dataclass(frozen=True)
class RecordOutcome:
    """What became of one record."""

    stream: str
    id_value: object  # the contact's id value (as read, for a record rejected before sending)
    # created, updated, unchanged, skipped, archived, not_found, rejected or not_written
    outcome: str
    record_id: str | None = None  # HubSpot's id of the contact, when known
    reason: Reason | None = None  # for rejected records
    why: str | None = None  # for skipped ones
    merged: bool = False  # it rode in the call of an earlier record for the same contact
    unconfirmed: bool = False  # created, but the answer was lost (see `Written.confirmed`)
    position: int | None = None  # in its stream: 1 for the stream's first record
    sequence: int | None = None  # the record's number in the run (see `OutcomesFile.expect`)


class OutcomesFile:
    """Appends one line per record to `path` (created 0600 on the first line); does nothing
    without a path."""

    def __init__(self, path: str | None, run_id: str) -> None:
        self.path = path
        self._run_id = run_id
        self._file: t.TextIO | None = None
        self._lock = threading.Lock()
        # The records read whose line is not written yet, by sequence: (stream, id, position).
        self._owed: dict[int, tuple[str, object, int]] = {}

    def expect(self, sequence: int, stream: str, id_value: object, position: int) -> None:
        """A record was read: a line is owed for it until its outcome is written."""
        if self.path is not None:
            with self._lock:
                self._owed[sequence] = (stream, id_value, position)

    def write(self, outcomes: t.Iterable[RecordOutcome]) -> None:
        """Append these outcomes and flush them to the operating system."""
        if self.path is None:
            return
        outcomes = list(outcomes)
        lines = self._lines(outcomes)
        with self._lock:
            for outcome in outcomes:
                if outcome.sequence is not None:
                    self._owed.pop(outcome.sequence, None)
            self._append(lines)

    def write_not_written(self, cause: str) -> None:
        """The run is ending: a `not_written` line, saying `cause`, for each record owed one."""
        with self._lock:
            why = f"The run ended before this record was written or rejected: {cause.rstrip('.')}."
            owed = sorted(self._owed.items())
            self._owed.clear()
            outcomes = [
                RecordOutcome(stream, id_value, "not_written", why=why, position=position)
                for _sequence, (stream, id_value, position) in owed
            ]
            self._append(self._lines(outcomes))

    def _lines(self, outcomes: list[RecordOutcome]) -> list[str]:
        at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        return [json_text(self._line(outcome, at)) for outcome in outcomes]

    def _append(self, lines: list[str]) -> None:
        """Under the lock: write these lines and flush them."""
        if self.path is None or not lines:
            return
        if self._file is None:
            self._file = open_private_for_append(self.path)
        self._file.write("\n".join(lines) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file if it was opened."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _line(self, outcome: RecordOutcome, at: str) -> dict:
        line: dict[str, t.Any] = {
            "run_id": self._run_id,
            "at": at,
            "stream": outcome.stream,
            "position": outcome.position,
            "id": outcome.id_value,
            "outcome": outcome.outcome,
            "record_id": outcome.record_id,
        }
        if outcome.merged:
            line["merged"] = True
        if outcome.unconfirmed:
            line["unconfirmed"] = True
        if outcome.reason is not None:
            line["reason"] = outcome.reason.as_dict()
        elif outcome.why is not None:
            line["reason"] = {"message": outcome.why}
        return line
