"""The README's example outputs are what runs of the target print today.

Each example is run on the input it describes, and the README's text is compared with the log,
its timestamps and logger names trimmed as the README shows them.
"""

from __future__ import annotations

import pathlib
import re

from tests.helpers import contact, fixture_text, lines, record, run_target, schema
from tests.test_progress import PAUSED, PROGRESS

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d [\d:,]+ \| (?P<level>\w+ +)\| \S+ +\| (?P<message>.*)")


def readme_example_after(marker: str) -> list[str]:
    """The lines of the README's first code block after the text `marker`."""
    found = re.search(re.escape(marker) + r".*?```\n(.*?)\n```", README.read_text(), re.DOTALL)
    assert found, f"no example after {marker!r} in README.md"
    return found[1].splitlines()


def as_the_readme_shows(stderr: str) -> list[str]:
    """The log's lines as the README shows them: `LEVEL    | message`, continuations as is."""
    shown = []
    for line in stderr.splitlines():
        parts = LOG_LINE.fullmatch(line)
        shown.append(f"{parts['level']}| {parts['message']}" if parts else line)
    return shown


def between(shown: list[str], first: str, stop: str) -> list[str]:
    """The lines from the one holding `first` up to (not with) the next one holding `stop`."""
    start = next(n for n, line in enumerate(shown) if first in line)
    end = next(n for n, line in enumerate(shown) if n > start and stop in line)
    return shown[start:end]


def test_the_mapping_table_example_is_a_real_runs(config, tmp_path):
    config["property_mapping"] = {"joined": "signup_date"}

    result = run_target(tmp_path, config, fixture_text("readme_mapping.singer"))

    assert result.returncode == 0, result.stderr
    table = between(as_the_readme_shows(result.stderr), "fields -> HubSpot", "Reader '")
    assert table == readme_example_after("the log shows how its fields map")


def test_the_summary_example_is_a_real_runs(config, tmp_path):
    run_target(tmp_path, config, lines([schema(), record({"email": "dan@example.com"})]))
    config.update(rejects_path="rejects.jsonl", max_rejects=1)

    result = run_target(tmp_path, config, fixture_text("readme_summary.singer"))

    assert result.returncode == 0, result.stderr
    (summary,) = [line for line in result.stderr.splitlines() if "HubSpot contacts:" in line]
    assert readme_example_after("further record merged into it counts as merged") == [
        LOG_LINE.fullmatch(summary)["message"]
    ]


def test_the_rejected_record_and_tally_examples_are_a_real_runs(config, tmp_path):
    fields = {
        "email": {"type": "string"},
        "signup_date": {"type": ["string", "null"]},
        "plan": {"type": ["string", "null"]},
    }
    bad_dates = [
        contact(n, email=f"d{n}@example.com", signup_date="23/10/2024") for n in range(203)
    ]
    bad_dates[0]["plan"] = "platinum"
    others = [{"email": "p1@example.com", "plan": "platinum"}, {"email": "not-an-email"}]
    others.insert(1, {"email": "p2@example.com", "plan": "Platinum"})
    text = lines([schema(properties=fields), *map(record, bad_dates + others)])
    config.update(rejects_path="output/rejects.jsonl", max_rejects=1000)

    result = run_target(tmp_path, config, text)

    assert result.returncode == 0, result.stderr
    shown = as_the_readme_shows(result.stderr)
    first_reject = next(line for line in shown if "Rejected record from" in line)
    assert readme_example_after("Rejected records are logged one by one") == [first_reject]
    tally = between(shown, "... and", "HubSpot contacts:")
    assert tally == readme_example_after("a tally groups every rejected record")


def test_the_progress_line_examples_read_as_the_progress_test_checks_them():
    examples = readme_example_after("While a run goes on, a line every `progress_interval`")

    found = [PROGRESS.search(line) for line in examples]
    assert all(found), examples
    assert [bool(re.fullmatch(PAUSED, match["wait"])) for match in found] == [False, True]
