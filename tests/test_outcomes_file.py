"""`outcomes_path`: one line per record read, saying what became of it, under the run's id."""

from __future__ import annotations

import collections
import json
import re
import signal
import stat

import pytest

from tests.helpers import (
    TOKEN,
    contact,
    lines,
    local_hubspot,
    record,
    run_target,
    schema,
    start_target,
    state,
    wait_for,
)

HUBSPOT_REFUSES = "grace@example..com"  # passes the target's check, not HubSpot's
DELETABLE = {
    "email": {"type": "string"},
    "first_name": {"type": ["string", "null"]},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
DELETED_AT = "2026-11-01T10:00:00Z"


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def files(config, tmp_path):
    """Outcomes and rejects files set in the config; returns their paths."""
    outcomes, rejects = tmp_path / "out" / "outcomes.jsonl", tmp_path / "out" / "rejects.jsonl"
    config.update(outcomes_path=str(outcomes), rejects_path=str(rejects), max_rejects=10)
    return outcomes, rejects


def test_every_record_read_has_one_line_and_the_lines_add_up_to_the_summary(
    config, files, tmp_path
):
    outcomes, _ = files
    messages = [
        schema(),
        record(contact(1)),
        record(contact(2)),
        record({"email": "not-an-email"}),  # rejected by the target
        record({"email": HUBSPOT_REFUSES}),  # rejected by HubSpot
        record(contact(1, company="Acme")),  # merged into person1's call
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    written = read_lines(outcomes)
    # Lines come as outcomes become known: a record the target refuses comes first.
    assert sorted((line["id"], line["outcome"], line.get("merged", False)) for line in written) == [
        (HUBSPOT_REFUSES, "rejected", False),
        ("not-an-email", "rejected", False),
        ("person1@example.com", "created", False),
        ("person1@example.com", "created", True),
        ("person2@example.com", "created", False),
    ]
    by_outcome = collections.Counter(
        "merged" if line.get("merged") else line["outcome"] for line in written
    )
    assert by_outcome == {"created": 2, "rejected": 2, "merged": 1}
    assert "2 created, 0 updated" in result.stderr
    assert "2 rejected" in result.stderr
    assert "5 records read, 1 of them merged into another record's call." in result.stderr


def test_a_written_contact_carries_hubspots_record_id(hubspot, config, files, tmp_path):
    outcomes, _ = files
    run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    result = run_target(tmp_path, config, lines([schema(), record(contact(1, company="Acme"))]))

    assert result.returncode == 0, result.stderr
    first, second = read_lines(outcomes)
    server_id = hubspot.contact(email="person1@example.com")["id"]
    assert (first["outcome"], first["record_id"]) == ("created", server_id)
    assert (second["outcome"], second["record_id"]) == ("updated", server_id)


def test_each_run_marks_its_lines_in_both_files_with_its_own_run_id(config, files, tmp_path):
    outcomes, rejects = files
    messages = [schema(), record(contact(1)), record({"email": "not-an-email"})]

    first = run_target(tmp_path, config, lines(messages))
    second = run_target(tmp_path, config, lines(messages))

    assert first.returncode == second.returncode == 0, second.stderr
    run_ids = [line["run_id"] for line in read_lines(outcomes)]
    assert run_ids[0] == run_ids[1] != run_ids[2] == run_ids[3]
    assert [line["run_id"] for line in read_lines(rejects)] == [run_ids[0], run_ids[2]]
    assert f"Run id {run_ids[2]} marks this run's lines in" in second.stderr


def test_a_rejected_line_says_why(config, files, tmp_path):
    outcomes, _ = files

    result = run_target(tmp_path, config, lines([schema(), record({"email": "not-an-email"})]))

    assert result.returncode == 0, result.stderr
    (line,) = read_lines(outcomes)
    assert line["outcome"] == "rejected"
    assert line["record_id"] is None
    assert line["reason"]["code"] == "INVALID_EMAIL"
    assert "record" not in line  # the record itself is in the rejects file only


def test_an_id_is_written_as_the_tap_sent_it_and_alike_in_both_files(config, files, tmp_path):
    numeric_ids = {"email": {"type": ["string", "number"]}}
    text = lines([schema(properties=numeric_ids)]) + (
        '{"type": "RECORD", "stream": "contacts", "record": {"email": 1.10}}\n'
        '{"type": "RECORD", "stream": "contacts", "record": {"email": NaN}}\n'
    )

    result = run_target(tmp_path, config, text)

    assert result.returncode == 0, result.stderr
    for path in files:
        ids = [
            json.loads(
                line,
                parse_float=lambda text: ("number", text),
                parse_constant=lambda text: ("token", text),
            )["id"]
            for line in path.read_text().splitlines()
        ]
        assert ids == [("number", "1.10"), ("token", "NaN")], path


def test_deletions_are_archived_or_not_found(config, files, tmp_path):
    outcomes, _ = files
    config["archive_deleted"] = True
    run_target(tmp_path, config, lines([schema(), record(contact(1))]))
    messages = [
        schema(properties=DELETABLE),
        record({"email": "person1@example.com", "_sdc_deleted_at": DELETED_AT}),
        record({"email": "ghost@example.com", "_sdc_deleted_at": DELETED_AT}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    created, archived, ghost = read_lines(outcomes)
    assert (archived["outcome"], archived["record_id"]) == ("archived", created["record_id"])
    assert (ghost["id"], ghost["outcome"], ghost["record_id"]) == (
        "ghost@example.com",
        "not_found",
        None,
    )


def test_create_only_skips_an_existing_contact_with_its_record_id_and_why(config, files, tmp_path):
    outcomes, _ = files
    run_target(tmp_path, config, lines([schema(), record(contact(1))]))
    config["write_mode"] = "create_only"

    result = run_target(tmp_path, config, lines([schema(), record(contact(1, company="Acme"))]))

    assert result.returncode == 0, result.stderr
    created, skipped = read_lines(outcomes)
    assert (skipped["outcome"], skipped["record_id"]) == ("skipped", created["record_id"])
    assert "create_only never modifies one" in skipped["reason"]["message"]


def test_the_outcomes_and_rejects_files_and_their_new_directory_are_private(
    config, files, tmp_path
):
    outcomes, rejects = files
    messages = [schema(), record(contact(1)), record({"email": "not-an-email"})]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(outcomes.stat().st_mode) == 0o600
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    assert stat.S_IMODE(outcomes.parent.stat().st_mode) == 0o700


def test_a_dry_run_writes_no_outcomes_file(config, files, tmp_path):
    outcomes, _ = files
    config["dry_run"] = True

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    assert not outcomes.exists()


def test_an_outcomes_path_that_is_a_directory_stops_the_run_at_the_start(hubspot, config, tmp_path):
    config["outcomes_path"] = str(tmp_path)

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 1
    assert f"`outcomes_path` {str(tmp_path)!r} cannot be written: it is a directory" in (
        result.stderr
    )
    assert hubspot.calls("/batch/upsert") == []


def test_a_create_whose_answer_was_lost_is_created_unconfirmed_with_its_record_id(
    hubspot, config, files, tmp_path
):
    outcomes, _ = files
    config.update(write_mode="create_only", request_timeout=1)
    hubspot.inject("/batch/create", delay=1.5)  # done by HubSpot after the target gave up
    hubspot.inject("/batch/create", status=503, delay=1.0)  # the retry comes after that

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    (line,) = read_lines(outcomes)
    assert (line["outcome"], line["unconfirmed"]) == ("created", True)
    assert line["record_id"] == hubspot.contact(email="person1@example.com")["id"]


# --- a run that fails or is stopped still accounts for every record read ---------------------


def records_read(stderr: str) -> int:
    """The records read, as the run's summary says."""
    return int(re.search(r"(\d+) records read", stderr).group(1))


def not_written(path) -> list[dict]:
    return [line for line in read_lines(path) if line["outcome"] == "not_written"]


def test_a_run_whose_retry_budget_runs_out_has_a_line_for_every_record_read(
    hubspot, config, files, tmp_path
):
    outcomes, _ = files
    config.update(max_retry_seconds=1, batch_size_rows=2)
    hubspot.inject("/batch/upsert", status=503, times=1000)
    messages = [schema(), *(record(contact(n)) for n in range(1, 6)), record({"email": "nope"})]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    written = read_lines(outcomes)
    assert len(written) == records_read(result.stderr) == 6
    assert collections.Counter(line["outcome"] for line in written) == {
        "not_written": 5,
        "rejected": 1,
    }
    unwritten = not_written(outcomes)
    assert [line["id"] for line in unwritten] == [f"person{n}@example.com" for n in range(1, 6)]
    assert [line["position"] for line in unwritten] == [1, 2, 3, 4, 5]
    last_line = result.stderr.rstrip().splitlines()[-1]
    reason = unwritten[0]["reason"]["message"]
    assert reason.startswith("The run ended before this record was written or rejected: ")
    assert "503" in reason
    assert reason.split(": ", 1)[1].rstrip(".") in last_line  # the error that ended the run


def test_a_run_stopped_by_sigterm_has_a_line_for_every_record_read(
    hubspot, config, files, tmp_path
):
    outcomes, _ = files
    config.update(max_retry_seconds=600)
    process = start_target(tmp_path, config)
    process.stdin.write(
        lines([schema(), *(record(contact(n)) for n in range(1, 6)), state({"n": 5})])
    )
    process.stdin.flush()
    assert json.loads(process.stdout.readline()) == {"n": 5}  # the first five are written
    hubspot.inject("/batch/upsert", status=503, times=1000)
    process.stdin.write(lines([*(record(contact(n)) for n in range(6, 11)), state({"n": 10})]))
    process.stdin.flush()
    wait_for(lambda: len(hubspot.calls("/batch/upsert")) >= 3, "the outage's retries")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + signal.SIGTERM
    written = read_lines(outcomes)
    assert len(written) == records_read(stderr) == 10
    assert collections.Counter(line["outcome"] for line in written) == {
        "created": 5,
        "not_written": 5,
    }
    unwritten = not_written(outcomes)
    assert [line["id"] for line in unwritten] == [f"person{n}@example.com" for n in range(6, 11)]
    assert unwritten[0]["reason"]["message"] == (
        "The run ended before this record was written or rejected: stopped by signal 15."
    )


def test_a_record_the_rejects_file_could_not_keep_is_not_written_when_the_run_fails(
    hubspot, config, files, tmp_path
):
    outcomes, rejects = files
    process = start_target(tmp_path, config)
    process.stdin.write(lines([schema(), record(contact(1))]))
    process.stdin.flush()
    wait_for(lambda: hubspot.calls("/batch/upsert"), "the first call")  # the start is checked
    rejects.mkdir()  # the rejects file can no longer be written, as on a broken disk

    _, stderr = process.communicate(lines([record({"email": "not-an-email"})]), timeout=60)

    assert process.returncode == 1
    written = read_lines(outcomes)
    assert len(written) == records_read(stderr) == 2
    assert [(line["id"], line["outcome"]) for line in written] == [
        ("person1@example.com", "created"),
        ("not-an-email", "not_written"),
    ]
    assert "IsADirectoryError" in written[1]["reason"]["message"]


def test_a_run_stopped_by_daily_reserve_has_a_line_for_every_record_read(files, tmp_path):
    outcomes, _ = files
    with local_hubspot(daily_limit=30) as hubspot:
        settings = {
            "access_token": TOKEN,
            "api_url": hubspot.url,
            "batch_size_rows": 1,
            "daily_reserve": 0.5,
            "outcomes_path": str(outcomes),
        }
        result = run_target(
            tmp_path, settings, lines([schema(), *(record(contact(n)) for n in range(1, 21))])
        )

    assert result.returncode == 1
    written = read_lines(outcomes)
    assert len(written) == records_read(result.stderr)  # it stops reading too
    assert {line["outcome"] for line in written} == {"created", "not_written"}
    assert "daily_reserve" in not_written(outcomes)[0]["reason"]["message"]
