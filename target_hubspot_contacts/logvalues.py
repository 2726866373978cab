"""How record values and ids appear in the log: every log line that shows one goes through here.

With `log_values: false` nothing from a record reaches the log: lines name the stream, the
field, the HubSpot property, the error code and the record's position in its stream instead,
and HubSpot's own messages about calls that carried records (they may quote them) are left
out. The rejects and outcomes files keep the full detail. The switch is process-wide: a target
process makes one run, and the input reader and the HTTP client consult it too.
"""

from __future__ import annotations

import traceback
import typing as t

from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_hubspot_contacts.jsontext import json_text

if t.TYPE_CHECKING:
    from target_hubspot_contacts.outcomes import Problem, Reason, Skipped

SHOWN_CHARS = 80
NOT_SHOWN = "not shown: `log_values` is false"

_values_shown = True


def show_values(enabled: bool) -> None:
    """Set `log_values` for this process: the target does, before it reads any input."""
    global _values_shown  # noqa: PLW0603 - one run per process; see the module docstring
    _values_shown = enabled


def values_shown() -> bool:
    """Whether log lines may show record values and ids (`log_values`)."""
    return _values_shown


def shown(value: object) -> str:
    """A record value or id as the log and reasons show it: JSON text as the tap sent it
    (`"ada"`, `1E+20`, `true`), shortened past SHOWN_CHARS."""
    text = json_text(value)  # at any depth the reader could read
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def record_ref(id_value: object, position: int) -> str:
    """How a log line names a record: `id 'ada@example.com'`, or `record 3 of the stream` (values
    hidden, or no id known)."""
    if _values_shown and id_value is not None:
        return f"id {shown(id_value)}"
    return f"record {position} of the stream"


def reason_text(reason: Reason) -> str:
    """Why a record was rejected, in one line, naming every bad value (or, values hidden, the
    field, property and code of each)."""
    if not _values_shown:
        return _value_free_reason(reason)
    if len(reason.problems) > 1:
        return "; ".join(_problem_text(problem, reason.source) for problem in reason.problems)
    # A local reason already names its field and property in its message.
    where = (
        f"property '{reason.property}': " if reason.property and reason.source == "hubspot" else ""
    )
    return f"{where}{reason.message}{_code(reason.code)}"


def problem_summary(problem: Problem, source: str) -> str:
    """What is wrong with a value, in words that quote nothing from the record."""
    if problem.summary:
        return problem.summary
    return "HubSpot refused the value" if source == "hubspot" else "the value was refused"


def skipped_text(id_value: object, stream: str, position: int, skipped: Skipped) -> str:
    """The log line of a contact the write mode left alone."""
    if _values_shown:
        return f"Skipped contact {shown(id_value)}: {skipped.why}."
    return f"Skipped contact of record {position} of stream '{stream}': {skipped.summary}."


def hubspot_message(message: object) -> str:
    """HubSpot's message about a call that carried records, which may quote them."""
    return str(message) if _values_shown else f"HubSpot's message is {NOT_SHOWN}"


def error_text(error: BaseException) -> str:
    """An unexpected error as the log shows it: its type, and its message if values are shown
    (nobody knows what an unexpected error's message quotes). The input reader's errors
    (reader.py) quote the input only when values are shown."""
    if _values_shown or isinstance(error, InvalidInputLine):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__} (its message is {NOT_SHOWN})"


def traceback_text(error: BaseException) -> str:
    """An unexpected error's traceback without its message, for when values are hidden."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{error_text(error)}"


def _value_free_reason(reason: Reason) -> str:
    if reason.problems:
        return "; ".join(_value_free_problem(p, reason.source) for p in reason.problems)
    what = "HubSpot refused the record" if reason.source == "hubspot" else "the record was refused"
    where = f"property '{reason.property}': " if reason.property else ""
    return f"{where}{what}{_code(reason.code or reason.category)}"


def _value_free_problem(problem: Problem, source: str) -> str:
    summary = problem_summary(problem, source)
    if problem.field is not None and source != "hubspot":
        where = f"field '{problem.field}' (HubSpot property '{problem.property}'): "
    else:
        where = f"property '{problem.property}': " if problem.property else ""
    return f"{where}{summary}{_code(problem.code)}"


def _problem_text(problem: Problem, source: str) -> str:
    if source == "hubspot" or problem.field is None:
        where = f"property '{problem.property}'"
    else:
        where = f"field '{problem.field}' (HubSpot property '{problem.property}')"
    return f"{where}: {problem.message}{_code(problem.code)}"


def _code(code: str | None) -> str:
    return f" [{code}]" if code else ""
