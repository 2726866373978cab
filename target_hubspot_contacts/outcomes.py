"""What became of each record: counters for the run summary, and the rejects file."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import os
import pathlib
import re
import typing as t

from singer_sdk import metrics

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.client import CallStats

_VALUE_ERRORS_PREFIX = re.compile(r"^Property values were not valid:\s*")


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a record was rejected, in HubSpot's terms where HubSpot said it."""

    source: str  # "local" (refused before sending) or "hubspot"
    message: str
    category: str | None = None
    code: str | None = None
    property: str | None = None
    field: str | None = None
    correlation_id: str | None = None

    def as_dict(self) -> dict:
        """The reason without empty parts, for the rejects file."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


def reason_from_hubspot_error(error: t.Mapping[str, t.Any], correlation_id: str | None) -> Reason:
    """Read a per-input error (207) or a whole-call error body (400) into a Reason."""
    message = str(error.get("message") or "HubSpot rejected the record without a message")
    details = _property_errors(message)
    code, name = details.get("error"), details.get("name")
    # The other shape: `errors: [{"code": ..., "message": ..., "context": {"propertyName": [...]}}]`
    for item in error.get("errors") or []:
        if not isinstance(item, dict):
            continue
        code = code or item.get("code")
        name = name or _first((item.get("context") or {}).get("propertyName"))
        if not details and item.get("message"):
            details = {"message": item["message"]}
    return Reason(
        source="hubspot",
        message=details.get("message") or message,
        category=error.get("category"),
        code=code,
        property=name,
        correlation_id=correlation_id or error.get("correlationId"),
    )


def _first(value: t.Any) -> str | None:
    """A name given as a string or as a list of strings (HubSpot's `context` uses lists)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _property_errors(message: str) -> dict:
    """The first entry of the JSON list HubSpot embeds after 'Property values were not valid:'."""
    match = _VALUE_ERRORS_PREFIX.match(message)
    if not match:
        return {}
    try:
        entries = json.loads(message[match.end() :])
    except ValueError:
        return {}
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        return entries[0]
    return {}


@dataclasses.dataclass(frozen=True)
class Written:
    """HubSpot confirmed the contact; `new` says whether it was created."""

    new: bool


@dataclasses.dataclass(frozen=True)
class Rejected:
    """The record was refused, by HubSpot or before sending."""

    reason: Reason


@dataclasses.dataclass(frozen=True)
class Skipped:
    """The write mode left the contact alone (update_only: absent; create_only: present)."""

    why: str


@dataclasses.dataclass(frozen=True)
class Archived:
    """A deletion: the contact was archived, or `found` is False and there was none."""

    found: bool


Outcome = t.Union[Written, Rejected, Skipped, Archived]  # noqa: UP007 - runtime alias on 3.10


@dataclasses.dataclass
class RunCounts:
    """What became of the contacts in this run."""

    created: int = 0
    updated: int = 0
    archived: int = 0
    not_found_to_archive: int = 0
    skipped: int = 0
    rejected: int = 0

    def count(self, outcome: Outcome, records: int) -> None:
        """Count one contact's outcome; a rejection counts each record merged into it."""
        if isinstance(outcome, Written):
            self.created += outcome.new
            self.updated += not outcome.new
        elif isinstance(outcome, Archived):
            self.archived += outcome.found
            self.not_found_to_archive += not outcome.found
        elif isinstance(outcome, Skipped):
            self.skipped += 1
        else:
            self.rejected += records


def report_run(
    logger: logging.Logger, counts: RunCounts, calls: CallStats, *, dry_run: bool
) -> None:
    """Log one summary line, and the same figures as Singer metrics."""
    logger.info(
        "%s: %d created, %d updated, %d archived, %d deletions found no contact, "
        "%d skipped, %d rejected; %d API calls, %d retries, %d rate-limited (429).",
        "Dry run, nothing written. HubSpot contacts that would be"
        if dry_run
        else "HubSpot contacts",
        counts.created,
        counts.updated,
        counts.archived,
        counts.not_found_to_archive,
        counts.skipped,
        counts.rejected,
        calls.calls,
        calls.retries,
        calls.rate_limited,
    )
    metrics_logger = metrics.get_metrics_logger()
    for outcome, value in dataclasses.asdict(counts).items():
        point = metrics.Point("counter", metrics.Metric.RECORD_COUNT, value, {"outcome": outcome})
        metrics.log(metrics_logger, point)
    for kind, value in dataclasses.asdict(calls).items():
        point = metrics.Point("counter", metrics.Metric.HTTP_REQUEST_COUNT, value, {"kind": kind})
        metrics.log(metrics_logger, point)


class Rejects:
    """Records rejected in this run: appended to the rejects file when one is set, else logged.

    A rejected record counts as settled (STATE may move past it) only once it is on disk.
    """

    def __init__(self, path: str | None, logger: logging.Logger) -> None:
        self.path = path
        self._logger = logger
        self._file = None

    @property
    def durable(self) -> bool:
        """Whether rejected records are kept on disk (and so may be passed by STATE)."""
        return self.path is not None

    def record(self, entries: list[tuple[str, str, dict, Reason]]) -> None:
        """Keep (stream, id, record, reason) entries; on disk before this returns."""
        for stream, id_value, _record, reason in entries:
            self._logger.error(
                "Rejected record from stream '%s' (id %r): %s", stream, id_value, _one_line(reason)
            )
        if self.path is None or not entries:
            return
        if self._file is None:
            path = pathlib.Path(self.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        for stream, id_value, record, reason in entries:
            line = {
                "rejected_at": now,
                "stream": stream,
                "id": id_value,
                "reason": reason.as_dict(),
                "record": record,
            }
            self._file.write(json.dumps(line, default=_json_default, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the rejects file if it was opened."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _one_line(reason: Reason) -> str:
    # A local reason already names its field and property in its message.
    where = (
        f"property '{reason.property}': " if reason.property and reason.source == "hubspot" else ""
    )
    code = f" [{reason.code}]" if reason.code else ""
    return f"{where}{reason.message}{code}"


def _json_default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return repr(value)
