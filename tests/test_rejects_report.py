"""What the log says about rejected records: every bad value of a record, the first few records
one by one, and a tally by code and property at the end."""

from __future__ import annotations

import json

from tests.helpers import contact, lines, record, run_target, schema

FIELDS = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
    "signup_date": {"type": ["string", "null"]},  # a plain string here, a date in HubSpot
    "plan": {"type": ["string", "null"]},
}
TWO_BAD_VALUES = {"email": "ada@example.com", "signup_date": "23/10/2024", "plan": "platinum"}
HUBSPOT_REFUSES = "grace@example..com"  # passes the target's check, not HubSpot's


def read_rejects(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rejected_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Rejected record from stream" in line]


def tally(stderr: str) -> list[str]:
    """The lines of the tally logged at the end of the run."""
    text = stderr.split("Rejected records by code and property", 1)[1]
    return [line.strip() for line in text.splitlines()[1:] if line.startswith("  ")]


def bad_dates_and_emails(dates: int, emails: int) -> str:
    messages = [schema(properties=FIELDS), record(contact(0))]
    messages += [
        record({"email": f"d{n}@example.com", "signup_date": f"{n + 10}/10/2024"})
        for n in range(dates)
    ]
    messages += [record({"email": f"not-an-email-{n}"}) for n in range(emails)]
    return lines(messages)


def test_a_rejected_record_names_every_bad_value_in_it(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)
    messages = [schema(properties=FIELDS), record(TWO_BAD_VALUES)]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    (entry,) = read_rejects(rejects)
    assert [(p["field"], p["code"]) for p in entry["reason"]["problems"]] == [
        ("signup_date", "INVALID_DATE"),
        ("plan", "INVALID_OPTION"),
    ]
    assert '"23/10/2024" is not a date' in entry["reason"]["message"]
    assert '"platinum" is not an option' in entry["reason"]["message"]
    (line,) = rejected_lines(result.stderr)
    assert "field 'signup_date' (HubSpot property 'signup_date'): \"23/10/2024\"" in line
    assert "[INVALID_DATE]; field 'plan' (HubSpot property 'plan'): \"platinum\"" in line


def test_the_first_ten_rejected_records_are_logged_one_by_one_then_counted(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=100)

    result = run_target(tmp_path, config, bad_dates_and_emails(dates=12, emails=2))

    assert result.returncode == 0, result.stderr
    assert len(read_rejects(rejects)) == 14
    assert len(rejected_lines(result.stderr)) == 10
    assert f"... and 4 more rejected record(s) in {rejects}" in result.stderr


def test_the_run_ends_with_a_tally_of_rejects_by_code_and_property(config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=100)

    result = run_target(tmp_path, config, bad_dates_and_emails(dates=12, emails=2))

    assert result.returncode == 0, result.stderr
    assert tally(result.stderr) == [
        '12 INVALID_DATE signup_date, e.g. "10/10/2024"',
        '2 INVALID_EMAIL email, e.g. "not-an-email-0"',
    ]


def test_the_tally_counts_a_record_once_for_each_bad_value(config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=2)
    other = {"email": "bob@example.com", "signup_date": "31/12/2024"}
    messages = [schema(properties=FIELDS), record(TWO_BAD_VALUES), record(other)]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert tally(result.stderr) == [
        '2 INVALID_DATE signup_date, e.g. "23/10/2024"',
        '1 INVALID_OPTION plan, e.g. "platinum"',
    ]


def test_the_tally_shows_the_value_hubspot_refused(config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=1)
    messages = [schema(), record(contact(1)), record({"email": HUBSPOT_REFUSES})]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert tally(result.stderr) == [f'1 INVALID_EMAIL email, e.g. "{HUBSPOT_REFUSES}"']


def test_without_a_rejects_file_the_unlogged_rejects_are_said_to_be_lost(config, tmp_path):
    result = run_target(tmp_path, config, bad_dates_and_emails(dates=11, emails=0))

    assert result.returncode != 0  # STATE cannot pass records kept nowhere
    assert "... and 1 more rejected record(s) (not kept: set `rejects_path`)" in result.stderr


def test_a_run_without_rejects_logs_no_tally(config, tmp_path):
    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    assert "Rejected records by code and property" not in result.stderr
