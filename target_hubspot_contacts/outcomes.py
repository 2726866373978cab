"""What became of each record: outcomes, their reasons, and the counts of the run summary."""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from singer_sdk import metrics

if t.TYPE_CHECKING:
    import logging

_VALUE_ERRORS_PREFIX = re.compile(r"^Property values were not valid:\s*")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One bad value a rejection names. `value` feeds the log's tally; files never hold it,
    nor `summary`, what is wrong in words that quote nothing from the record (for a log that
    must not show values)."""

    code: str | None
    property: str | None
    message: str
    field: str | None = None
    value: object = None  # None when not known
    summary: str | None = None  # None when only the message says it

    def as_dict(self) -> dict:
        """The problem without its value or empty parts, for the rejects file."""
        parts = {"code": self.code, "property": self.property, "field": self.field}
        return {key: value for key, value in parts.items() if value is not None} | {
            "message": self.message
        }


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a record was rejected, in HubSpot's terms where HubSpot said it.

    `code`, `property` and `field` are those of the first of `problems`, the bad values
    named (none when the reason is not about values).
    """

    source: str  # "local" (refused before sending) or "hubspot"
    message: str
    category: str | None = None
    code: str | None = None
    property: str | None = None
    field: str | None = None
    correlation_id: str | None = None
    problems: tuple[Problem, ...] = ()

    @classmethod
    def of_record(cls, code: str, message: str, summary: str) -> Reason:
        """A local reason about the whole record, not one value: `summary` says it without
        values."""
        problem = Problem(code=code, property=None, message=message, summary=summary)
        return cls(source="local", message=message, code=code, problems=(problem,))

    def as_dict(self) -> dict:
        """The reason without empty parts, for the rejects file."""
        parts = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "problems"
        }
        result = {key: value for key, value in parts.items() if value is not None}
        if len(self.problems) > 1:
            result["problems"] = [problem.as_dict() for problem in self.problems]
        return result

    def with_values(self, properties: t.Mapping[str, str]) -> Reason:
        """This reason with the values sent for the properties its problems name."""
        if not any(p.value is None and p.property in properties for p in self.problems):
            return self
        problems = tuple(
            dataclasses.replace(problem, value=properties.get(problem.property))
            if problem.value is None and problem.property in properties
            else problem
            for problem in self.problems
        )
        return dataclasses.replace(self, problems=problems)


def reason_from_hubspot_error(error: t.Mapping[str, t.Any], correlation_id: str | None) -> Reason:
    """Read a per-input error (207) or a whole-call error body (400) into a Reason."""
    message = str(error.get("message") or "HubSpot rejected the record without a message")
    entries = _property_errors(message)
    details = entries[0] if entries else {}
    code, name = details.get("error"), details.get("name")
    problems = [
        Problem(
            code=entry.get("error"),
            property=entry.get("name"),
            message=str(entry.get("message") or message),
        )
        for entry in entries
    ]
    # The other shape: `errors: [{"code": ..., "message": ..., "context": {"propertyName": [...]}}]`
    for item in error.get("errors") or []:
        if not isinstance(item, dict):
            continue
        code = code or item.get("code")
        item_name = _first((item.get("context") or {}).get("propertyName"))
        name = name or item_name
        if not details and item.get("message"):
            details = {"message": item["message"]}
        if not entries and item_name:
            item_message = str(item.get("message") or message)
            problems.append(Problem(item.get("code"), property=item_name, message=item_message))
    return Reason(
        source="hubspot",
        message=details.get("message") or message,
        category=error.get("category"),
        code=code,
        property=name,
        correlation_id=correlation_id or error.get("correlationId"),
        problems=tuple(problems),
    )


def _first(value: t.Any) -> str | None:
    """A name given as a string or as a list of strings (HubSpot's `context` uses lists)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _property_errors(message: str) -> list[dict]:
    """The entries of the JSON list HubSpot embeds after 'Property values were not valid:'."""
    match = _VALUE_ERRORS_PREFIX.match(message)
    if not match:
        return []
    try:
        entries = json.loads(message[match.end() :])
    except ValueError:
        return []
    if isinstance(entries, list):
        return [entry for entry in entries if isinstance(entry, dict)]
    return []


@dataclasses.dataclass(frozen=True)
class Written:
    """HubSpot confirmed the contact; `new` says whether it was created.

    Unconfirmed: a create whose answer was lost, retried, found the contact there (this run
    most likely created it; another writer may have).
    """

    new: bool
    confirmed: bool = True
    record_id: str | None = None  # HubSpot's id of the contact, when its answer gave it


@dataclasses.dataclass(frozen=True)
class Rejected:
    """The record was refused, by HubSpot or before sending."""

    reason: Reason


@dataclasses.dataclass(frozen=True)
class Skipped:
    """The write mode left the contact alone (update_only: absent; create_only: present)."""

    why: str
    record_id: str | None = None  # of the contact create_only left alone
    summary: str = ""  # why, naming no contact (for a log that must not show values)


@dataclasses.dataclass(frozen=True)
class Unchanged:
    """The contact's properties are the ones last written (see syncstore.py): no call needed."""

    record_id: str | None = None  # HubSpot's id of the contact, as remembered


@dataclasses.dataclass(frozen=True)
class Archived:
    """A deletion: the contact was archived, or `found` is False and there was none."""

    found: bool
    record_id: str | None = None  # of the contact archived


Outcome = t.Union[Written, Rejected, Skipped, Archived, Unchanged]  # noqa: UP007 - runtime alias on 3.10


def outcome_name(outcome: Outcome) -> str:
    """The outcome in one word, as the outcomes file says it."""
    if isinstance(outcome, Written):
        return "created" if outcome.new else "updated"
    if isinstance(outcome, Archived):
        return "archived" if outcome.found else "not_found"
    if isinstance(outcome, Unchanged):
        return "unchanged"
    return "skipped" if isinstance(outcome, Skipped) else "rejected"


@dataclasses.dataclass
class RunCounts:
    """What became of the records of this run; the figures add up to the records settled.

    A call input is one contact, made of one record or of several merged: the contact's
    outcome counts once, and each further record merged into it counts as `merged`. A
    rejection counts every record it covers.
    """

    created: int = 0
    created_unconfirmed: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    not_found_to_archive: int = 0
    skipped: int = 0
    rejected: int = 0
    merged: int = 0

    def count(self, outcome: Outcome, records: int) -> None:
        """Count one contact's outcome, made of `records` records."""
        if isinstance(outcome, Rejected):
            self.rejected += records
            return
        self.merged += records - 1
        if isinstance(outcome, Written):
            if not outcome.confirmed:
                self.created_unconfirmed += 1
                return
            self.created += outcome.new
            self.updated += not outcome.new
        elif isinstance(outcome, Archived):
            self.archived += outcome.found
            self.not_found_to_archive += not outcome.found
        elif isinstance(outcome, Unchanged):
            self.unchanged += 1
        else:
            self.skipped += 1

    @property
    def records(self) -> int:
        """Records counted so far."""
        return sum(dataclasses.astuple(self))


@dataclasses.dataclass
class CallStats:
    """Counters of HTTP activity, for the run summary and metrics."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0


@dataclasses.dataclass(frozen=True)
class MetricName:
    """A Singer metric name of this target (the SDK's Point reads only `.value`)."""

    value: str


# Singer metric names, one per figure, so that a metric line says what it counts even where
# its tags are not shown (Meltano's console log shows only the name and the value).
_COUNT_METRICS = {
    "created": "contacts_created",
    "created_unconfirmed": "contacts_created_unconfirmed",
    "updated": "contacts_updated",
    "unchanged": "contacts_unchanged",
    "archived": "contacts_archived",
    "not_found_to_archive": "contacts_not_found_to_archive",
    "skipped": "contacts_skipped",
    "rejected": "records_rejected",
    "merged": "records_merged",
}
_CALL_METRICS = {
    "calls": metrics.Metric.HTTP_REQUEST_COUNT.value,
    "retries": "http_retry_count",
    "rate_limited": "http_rate_limited_count",
}


# How the summary and progress lines name a figure: what the run did, or what a dry run would.
_WORDS = {
    "created": ("created", "would be created"),
    "updated": ("updated", "would be updated"),
    "unchanged": ("unchanged", "unchanged"),
    "archived": ("archived", "would be archived"),
    "not_found_to_archive": ("deletions found no contact", "deletions would find no contact"),
    "skipped": ("skipped", "would be skipped"),
    "rejected": ("rejected", "would be rejected"),
}


def figure_words(name: str, *, dry_run: bool) -> str:
    """The words after a figure of RunCounts: `created`, or in a dry run `would be created`."""
    return _WORDS[name][dry_run]


def report_run(
    logger: logging.Logger,
    counts: RunCounts,
    calls: CallStats,
    *,
    records_read: int,
    dry_run: bool,
    run_id: str = "",
) -> None:
    """Log one summary line, and its figures that are not 0 as Singer metrics."""
    unsettled = records_read - counts.records
    phrases = {
        name: f"{getattr(counts, name)} {figure_words(name, dry_run=dry_run)}" for name in _WORDS
    }
    if counts.created_unconfirmed:
        phrases["created"] += (
            f" ({counts.created_unconfirmed} more created unconfirmed: their answer was lost)"
        )
    logger.info(
        "%s: %s; %d API calls, %d retries, %d rate-limited (429). "
        "%d records read, %d of them merged into another record's call%s.",
        "Dry run, nothing written. HubSpot contacts" if dry_run else "HubSpot contacts",
        ", ".join(phrases.values()),
        calls.calls,
        calls.retries,
        calls.rate_limited,
        records_read,
        counts.merged,
        f", {unsettled} neither written nor rejected" if unsettled else "",
    )
    prefix = "dry_run." if dry_run else ""
    figures = [
        *((_COUNT_METRICS[name], value) for name, value in dataclasses.asdict(counts).items()),
        *((_CALL_METRICS[name], value) for name, value in dataclasses.asdict(calls).items()),
    ]
    metrics_logger = metrics.get_metrics_logger()
    for name, value in figures:
        if value:
            metric = t.cast("metrics.Metric", MetricName(prefix + name))
            point = metrics.Point("counter", metric, value, {"run_id": run_id})
            metrics.log(metrics_logger, point)
