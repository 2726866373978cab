"""How record values and ids appear in the log: every log line that shows one goes through here."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from target_hubspot_contacts.outcomes import Problem, Reason

SHOWN_CHARS = 80


def shown(value: object) -> str:
    """A record value or id as the log shows it: its repr, shortened past SHOWN_CHARS."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def reason_text(reason: Reason) -> str:
    """Why a record was rejected, in one line, naming every bad value."""
    if len(reason.problems) > 1:
        return "; ".join(_problem_text(problem, reason.source) for problem in reason.problems)
    # A local reason already names its field and property in its message.
    where = (
        f"property '{reason.property}': " if reason.property and reason.source == "hubspot" else ""
    )
    return f"{where}{reason.message}{_code(reason.code)}"


def _problem_text(problem: Problem, source: str) -> str:
    if source == "hubspot" or problem.field is None:
        where = f"property '{problem.property}'"
    else:
        where = f"field '{problem.field}' (HubSpot property '{problem.property}')"
    return f"{where}: {problem.message}{_code(problem.code)}"


def _code(code: str | None) -> str:
    return f" [{code}]" if code else ""
