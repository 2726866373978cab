"""With `log_values: false` nothing from a record reaches the log; the rejects and outcomes files
keep the full detail.

Every value and id in these runs' input holds "zq", which nothing else in a log does, so a
log that shows any of them in any form (quoted, lowercased, inside HubSpot's messages) says so.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import (
    clean_env,
    lines,
    local_hubspot,
    record,
    run_target,
    schema,
    start_target,
    state,
    wait_for,
)

MARK = "zq"
FIELDS = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
    "signup_date": {"type": ["string", "null"]},  # a plain string here, a date in HubSpot
    "plan": {"type": ["string", "null"]},  # options in HubSpot: free, pro, enterprise
    "external_id": {"type": ["string", "null"]},  # unique values in HubSpot
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
HIDE_VALUES = {"log_values": False}
DEBUG = {"TARGET_HUBSPOT_CONTACTS_LOGLEVEL": "DEBUG"}


def person(number: int, **extra: object) -> dict:
    """A valid record whose every value is marked."""
    return {"email": f"zq-person{number}@example.org", "first_name": f"Zq{number}", **extra}


def contacts_input(*records: dict) -> str:
    return lines([schema(properties=FIELDS), *(record(data) for data in records)])


def assert_no_value_in(log: str, *hubspot_ids: str) -> None:
    """Nothing from the input, and none of HubSpot's ids for these contacts, is in the log."""
    assert MARK not in log.lower(), [line for line in log.splitlines() if MARK in line.lower()]
    for hubspot_id in hubspot_ids:  # not inside a correlation id, a date or a longer number
        assert not re.search(rf"(?<![\w-]){hubspot_id}(?![\w-])", log), hubspot_id
    assert "Existing ID" not in log


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- a run with rejects from every source, retries and progress, values hidden --------------

# The record that takes the unique external id of an earlier contact, which HubSpot refuses
# with a 409 naming that contact's HubSpot id.
TAKEN = {"email": "zq-taker@example.org", "external_id": "zq-X1"}
REJECTED_RUN = [
    person(1),
    {"email": "zq-not-an-email"},  # 2: refused by the target
    {"email": "zq-ada@example.org", "signup_date": "zq-23/10/2024", "plan": "zq-platinum"},  # 3
    {"email": "zq-grace@example..com"},  # 4: passes the target's check, refused by HubSpot (207)
    TAKEN,  # 5: refused by HubSpot for the whole call (409), then alone
    *({"email": f"zq-d{n}@example.org", "signup_date": f"zq-{n}/10/2024"} for n in range(5)),
    person(2),
    {"email": "zq-eve@example.org", "first_name": ["zq-list"]},  # 12: breaks the schema
]


@pytest.fixture(scope="module")
def rejected_run(tmp_path_factory):
    """A run with values hidden: local and HubSpot rejects, a retried call whose error message
    quotes a contact, progress lines, the tally and the summary, logged at DEBUG level."""
    tmp_path = tmp_path_factory.mktemp("rejected-run")
    with local_hubspot() as hubspot:
        config = {"access_token": hubspot.access_token, "api_url": hubspot.url}
        owner = {"email": "zq-owner@example.org", "external_id": "zq-X1"}
        assert run_target(tmp_path, config, contacts_input(owner)).returncode == 0
        hubspot.latency = 0.2
        hubspot.inject(
            "/batch/upsert",
            status=503,
            body={"status": "error", "message": "zq-person1@example.org is locked"},
        )
        rejects, outcomes = tmp_path / "rejects.jsonl", tmp_path / "outcomes.jsonl"
        config.update(
            HIDE_VALUES,
            rejects_path=str(rejects),
            outcomes_path=str(outcomes),
            max_rejects=100,
            progress_interval=0.1,
            batch_size_rows=5,
        )
        text = contacts_input(*REJECTED_RUN) + lines([state({"at": 1})])
        result = run_target(tmp_path, config, text, env=clean_env(**DEBUG))
        ids = [contact["id"] for contact in hubspot.contacts]
    return result, rejects, outcomes, ids


def test_with_log_values_false_no_value_or_id_of_a_run_with_rejects_and_retries_is_logged(
    rejected_run,
):
    result, _, _, hubspot_ids = rejected_run

    assert result.returncode == 0, result.stderr
    for sign in ("DEBUG", "Progress:", "fields -> HubSpot contact properties", "retry 1 in"):
        assert sign in result.stderr, sign  # what is checked was logged
    assert "HubSpot contacts: 2 created" in result.stderr
    assert_no_value_in(result.stderr, *hubspot_ids)


def test_with_log_values_false_a_rejected_record_is_named_by_its_position_field_and_code(
    rejected_run,
):
    result, _, _, _ = rejected_run

    assert (
        "Rejected record from stream 'contacts' (record 2 of the stream): field 'email' "
        "(HubSpot property 'email'): the value is not a valid email address [INVALID_EMAIL]"
    ) in result.stderr
    assert (
        "(record 3 of the stream): field 'signup_date' (HubSpot property 'signup_date'): "
        "the value is not a date (expected YYYY-MM-DD) [INVALID_DATE]; field 'plan' (HubSpot "
        "property 'plan'): the value is not an option of this property (allowed values: free, "
        "pro, enterprise) [INVALID_OPTION]"
    ) in result.stderr
    assert (
        "(record 4 of the stream): property 'email': HubSpot refused the value [INVALID_EMAIL]"
    ) in result.stderr
    assert "(record 5 of the stream): HubSpot refused the record [CONFLICT]" in result.stderr
    assert (
        "(record 12 of the stream): the record does not match the stream's schema [INVALID_RECORD]"
    ) in result.stderr


def test_with_log_values_false_the_tally_names_codes_and_properties_without_examples(
    rejected_run,
):
    result, _, _, _ = rejected_run

    tally = result.stderr.split("Rejected records by code and property", 1)[1]
    assert "  6 INVALID_DATE signup_date: the value is not a date (expected YYYY-MM-DD)" in tally
    assert "  1 INVALID_EMAIL email: HubSpot refused the value" in tally
    assert "  1 REJECTED: HubSpot refused the record [CONFLICT]" in tally


def test_with_log_values_false_hubspot_messages_about_sent_records_are_left_out(rejected_run):
    result, _, _, _ = rejected_run

    assert (
        "HubSpot call failed (503 (HubSpot's message is not shown: `log_values` is false)"
    ) in result.stderr


def test_with_log_values_false_the_files_keep_every_value_and_the_position_the_log_names(
    rejected_run,
):
    _, rejects, outcomes, _ = rejected_run

    by_position = {line["position"]: line for line in read_lines(rejects)}
    assert by_position[2]["id"] == "zq-not-an-email"
    assert '"zq-not-an-email" is not a valid email address' in by_position[2]["reason"]["message"]
    assert "Email address zq-grace@example..com is invalid" in by_position[4]["reason"]["message"]
    assert "Existing ID" in by_position[5]["reason"]["message"]
    assert by_position[5]["record"] == TAKEN
    written = {line["position"]: line for line in read_lines(outcomes)}
    assert sorted(written) == list(range(1, len(REJECTED_RUN) + 1))
    assert written[1]["id"] == "zq-person1@example.org"


def test_with_log_values_false_a_call_refused_whole_for_one_record_is_split_without_naming_it(
    tmp_path,
):
    with local_hubspot(partial_upserts=False) as hubspot:  # one bad input fails the whole call
        config = {"access_token": hubspot.access_token, "api_url": hubspot.url, **HIDE_VALUES}
        config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=1)
        messages = contacts_input(person(1), {"email": "zq-grace@example..com"}, person(2))

        result = run_target(tmp_path, config, messages, env=clean_env(**DEBUG))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 2
        hubspot_ids = [contact["id"] for contact in hubspot.contacts]
    assert "HubSpot refused a upsert of 3 contacts (400); splitting it" in result.stderr
    assert (
        "(record 2 of the stream): property 'email': HubSpot refused the value [INVALID_EMAIL]"
    ) in result.stderr
    assert_no_value_in(result.stderr, *hubspot_ids)


def test_with_log_values_false_a_dry_run_logs_no_value_or_id(hubspot, config, tmp_path):
    assert run_target(tmp_path, config, contacts_input(person(1))).returncode == 0
    config.update(HIDE_VALUES, dry_run=True, write_mode="update_only", max_rejects=1)
    config["rejects_path"] = str(tmp_path / "rejects.jsonl")
    messages = contacts_input(person(1, company="zq-Acme"), person(2), {"email": "zq-bad"})

    result = run_target(tmp_path, config, messages, env=clean_env(**DEBUG))

    assert result.returncode == 0, result.stderr
    assert "Dry run, nothing written." in result.stderr
    assert (
        "Skipped contact of record 2 of stream 'contacts': no contact with its email; "
        "update_only never creates."
    ) in result.stderr
    assert "Would reject record from stream 'contacts' (record 3 of the stream)" in result.stderr
    assert_no_value_in(result.stderr, hubspot.contacts[0]["id"])


def test_with_log_values_false_skips_and_deletions_log_no_value_or_id(hubspot, config, tmp_path):
    assert run_target(tmp_path, config, contacts_input(person(1), person(2))).returncode == 0
    config.update(HIDE_VALUES, write_mode="create_only", archive_deleted=True)
    deleted = "2026-01-02T03:04:05Z"
    messages = contacts_input(
        person(1, company="zq-Acme"),
        person(3),
        {"email": "zq-person2@example.org", "_sdc_deleted_at": deleted},
        {"email": "zq-ghost@example.org", "_sdc_deleted_at": deleted},
    )

    result = run_target(tmp_path, config, messages, env=clean_env(**DEBUG))

    assert result.returncode == 0, result.stderr
    assert (
        "1 created, 0 updated, 0 unchanged, 1 archived, 1 deletions found no contact, 1 skipped"
        in result.stderr
    )
    assert (
        "Skipped contact of record 1 of stream 'contacts': a contact with its email exists; "
        "create_only never modifies one."
    ) in result.stderr
    assert_no_value_in(result.stderr, *(contact["id"] for contact in hubspot.contacts))


NOT_JSON = '{"type": "RECORD", "stream": "contacts", "record": {"email": "zq-cut@example.org"\n'
NO_STREAM = json.dumps({"type": "RECORD", "record": person(9)}) + "\n"


@pytest.mark.parametrize(
    ("input_text", "last_line"),
    [
        pytest.param(
            contacts_input(person(1)) + NOT_JSON,
            "Input line 3 is not JSON (Expecting ',' delimiter: line 1 column 82 (char 81)): no "
            "message can be read from it, so the run stops. Fix the tap's output (or the step "
            "before this target) and rerun. The line: not shown: `log_values` is false",
            id="a-line-that-is-not-json",
        ),
        pytest.param(
            contacts_input(person(1)) + NO_STREAM,
            "Line is missing required stream key(s) (the line is not shown: `log_values` is false)",
            id="a-record-without-its-stream",
        ),
    ],
)
def test_with_log_values_false_an_unreadable_input_line_ends_the_run_without_quoting_it(
    config, tmp_path, input_text, last_line
):
    config.update(HIDE_VALUES)

    result = run_target(tmp_path, config, input_text)

    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(last_line)
    assert_no_value_in(result.stderr)


def test_with_log_values_false_an_unexpected_error_is_logged_without_its_message(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(HIDE_VALUES, rejects_path=str(rejects))
    process = start_target(tmp_path, config)
    process.stdin.write(contacts_input(person(1)))
    process.stdin.flush()
    wait_for(lambda: hubspot.calls("/batch/upsert"), "the first call")  # the start is checked
    rejects.mkdir()  # the rejects file can no longer be written, as on a broken disk

    _, stderr = process.communicate(lines([record({"email": "zq-not-an-email"})]), 60)

    assert process.returncode == 1
    assert "Traceback (most recent call last):" in stderr
    assert stderr.rstrip().endswith(
        "Stopped by an unexpected error (traceback above): IsADirectoryError (its message is "
        "not shown: `log_values` is false)"
    )
    assert_no_value_in(stderr)


def test_with_log_values_false_a_stream_map_failing_on_a_record_rejects_it_unquoted(
    config, tmp_path
):
    # int('Zq1') fails with a message quoting the value.
    config.update(HIDE_VALUES, stream_maps={"contacts": {"first_name": "int(first_name)"}})

    result = run_target(tmp_path, config, contacts_input(person(1)))

    assert result.returncode == 1
    assert (
        "Rejected record from stream 'contacts' (record 1 of the stream): `stream_maps` failed "
        "on this record of stream 'contacts': ValueError (its message is not shown: "
        "`log_values` is false) [STREAM_MAP_FAILED]"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_value_in(result.stderr)


def test_with_log_values_false_a_call_hubspot_refuses_for_every_record_ends_the_run_unquoted(
    hubspot, config, tmp_path
):
    config.update(HIDE_VALUES)
    hubspot.inject(
        "/batch/upsert",
        status=400,
        body={"status": "error", "message": "zq-person1@example.org: no", "category": "BAD"},
    )

    result = run_target(tmp_path, config, contacts_input(person(1)))

    assert result.returncode == 1
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert (
        "HubSpot refused POST /crm/objects/2026-03/contacts/batch/upsert: 400 BAD (HubSpot's "
        "message is not shown: `log_values` is false) [correlation id "
    ) in last_line
    assert_no_value_in(result.stderr)


def test_with_log_values_false_a_run_that_skips_unchanged_rows_logs_no_value_or_id(
    hubspot, config, tmp_path
):
    config.update(skip_unchanged=True, sync_store=str(tmp_path / "store" / "sync.db"))
    rows = contacts_input(person(1), person(2, company="zq-Acme"))
    assert run_target(tmp_path, config, rows).returncode == 0
    config.update(HIDE_VALUES)

    result = run_target(tmp_path, config, rows, env=clean_env(**DEBUG))

    assert result.returncode == 0, result.stderr
    assert "0 created, 0 updated, 2 unchanged" in result.stderr
    assert_no_value_in(result.stderr, *(contact["id"] for contact in hubspot.contacts))
