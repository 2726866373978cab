"""Nothing lost under faults: retries, rate limits, partial failures, rejects, kill and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.helpers import (
    TOKEN,
    contact,
    lines,
    local_hubspot,
    printed_states,
    record,
    run_target,
    schema,
    start_target,
    state,
)

# Passes the target's own email check, but HubSpot refuses an empty domain label.
EMAIL_ONLY_HUBSPOT_REFUSES = "grace@example..com"


def contacts_input(count: int, state_every: int = 0, first: int = 1) -> str:
    messages = [schema()]
    for number in range(first, first + count):
        messages.append(record(contact(number)))
        if state_every and number % state_every == 0:
            messages.append(state({"n": number}))
    return lines(messages)


def read_rejects(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"drop_connection": True},
        {"status": 423},
        {"status": 477, "headers": {"Retry-After": "1"}},
    ],
    ids=["500", "502", "503", "504", "dropped-connection", "423-locked", "477-retry-after"],
)
def test_transient_failures_are_retried_until_written(hubspot, config, tmp_path, fault):
    hubspot.inject("/batch/upsert", times=2, **fault)

    result = run_target(tmp_path, config, contacts_input(5))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 5
    assert "2 retries" in result.stderr


def test_each_retry_is_logged_with_status_correlation_id_and_wait(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=503)

    result = run_target(tmp_path, config, contacts_input(2))

    retry_lines = [line for line in result.stderr.splitlines() if "retry 1 in" in line]
    assert len(retry_lines) == 1
    assert "503" in retry_lines[0]
    assert "correlation id" in retry_lines[0]


def test_retry_after_is_honoured(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=503, headers={"Retry-After": "2"})

    result = run_target(tmp_path, config, contacts_input(2))

    assert result.returncode == 0, result.stderr
    first, second = hubspot.calls("/batch/upsert")
    assert second.at - first.at >= 2.0


def test_client_errors_other_than_locks_are_not_retried(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=404)

    result = run_target(tmp_path, config, contacts_input(2))

    assert result.returncode == 1
    assert len(hubspot.calls("/batch/upsert")) == 1
    assert "404" in result.stderr


def test_retries_stop_after_the_total_wait_budget(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=503, times=1000)
    config["max_retry_seconds"] = 2

    result = run_target(tmp_path, config, contacts_input(2, state_every=1))

    assert result.returncode == 1
    assert "giving up" in result.stderr
    assert printed_states(result.stdout) == []


def test_ten_secondly_429_waits_out_the_window_and_retries(tmp_path):
    with local_hubspot(interval_ms=1000) as hubspot:
        hubspot.inject(
            "/batch/upsert",
            status=429,
            body={
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
        )
        config = {"access_token": TOKEN, "api_url": hubspot.url}
        result = run_target(tmp_path, config, contacts_input(3))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 3
        first, second = hubspot.calls("/batch/upsert")
        assert second.at - first.at >= 1.0
        assert "1 rate-limited (429)" in result.stderr


def test_calls_are_paced_to_the_rate_limit_without_429s(tmp_path):
    with local_hubspot(rate_limit=4, interval_ms=500) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url, "batch_size_rows": 1}
        result = run_target(tmp_path, config, contacts_input(16))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 16
        assert [call for call in hubspot.requests if call.status == 429] == []


def test_daily_limit_stops_the_run_at_once_with_state_for_what_was_written(tmp_path):
    with local_hubspot(daily_limit=3) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url, "batch_size_rows": 5}
        config["max_concurrency"] = 1
        result = run_target(tmp_path, config, contacts_input(30, state_every=5))

        assert result.returncode == 1
        assert "daily" in result.stderr.lower()
        assert "resets at midnight" in result.stderr
        # The properties read and two upserts fit in the budget of 3 calls.
        assert len(hubspot.contacts) == 10
        assert printed_states(result.stdout) == [{"n": 5}, {"n": 10}]
        assert len(hubspot.calls("/batch/upsert")) == 3


def test_a_207_writes_the_good_records_and_rejects_the_bad_one(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)
    messages = [
        schema(),
        record(contact(1)),
        record({"email": EMAIL_ONLY_HUBSPOT_REFUSES, "first_name": "Grace"}),
        record(contact(3)),
        state({"n": 3}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert {c["properties"]["email"] for c in hubspot.contacts} == {
        "person1@example.com",
        "person3@example.com",
    }
    (entry,) = read_rejects(rejects)
    assert entry["id"] == EMAIL_ONLY_HUBSPOT_REFUSES
    assert entry["record"]["first_name"] == "Grace"
    assert entry["reason"]["source"] == "hubspot"
    assert entry["reason"]["code"] == "INVALID_EMAIL"
    assert entry["reason"]["category"] == "VALIDATION_ERROR"
    assert printed_states(result.stdout) == [{"n": 3}]


def test_a_whole_call_400_is_split_to_isolate_the_bad_record(tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    with local_hubspot(partial_upserts=False) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url, "rejects_path": str(rejects)}
        config["max_rejects"] = 1
        messages = [schema(), *(record(contact(n)) for n in range(1, 17))]
        messages.insert(6, record({"email": EMAIL_ONLY_HUBSPOT_REFUSES}))
        result = run_target(tmp_path, config, lines(messages))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 16
        calls = hubspot.calls("/batch/upsert")
        assert 2 < len(calls) <= 2 * 5 + 1, "a few extra calls, not one per record"

    (entry,) = read_rejects(rejects)
    assert entry["id"] == EMAIL_ONLY_HUBSPOT_REFUSES
    assert entry["reason"]["code"] == "INVALID_EMAIL"


def test_an_answer_that_does_not_account_for_every_input_is_an_error(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=200, body={"status": "COMPLETE", "results": []})

    result = run_target(tmp_path, config, contacts_input(3, state_every=3))

    assert result.returncode == 1
    assert "accounted for only 0" in result.stderr
    assert printed_states(result.stdout) == []


def test_rejects_past_max_rejects_exit_non_zero_after_writing_every_valid_record(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1)
    messages = [
        schema(),
        record({"email": "not-an-email"}),
        record(contact(1)),
        record({"email": "also@bad"}),
        record(contact(2)),
        state({"n": 4}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    assert "more than `max_rejects` (1)" in result.stderr
    assert result.stderr.count("HubSpot contacts: 2 created") == 1
    assert len(hubspot.contacts) == 2
    assert [entry["id"] for entry in read_rejects(rejects)] == ["not-an-email", "also@bad"]
    assert printed_states(result.stdout) == []  # held before "also@bad", the one past the limit


def test_without_a_rejects_file_state_stops_before_a_rejected_record(hubspot, config, tmp_path):
    messages = [
        schema(),
        record(contact(1)),
        state({"n": 1}),
        record({"email": "not-an-email"}),
        record(contact(3)),
        state({"n": 3}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    assert printed_states(result.stdout) == [{"n": 1}]
    assert len(hubspot.contacts) == 2
    assert "not-an-email" in result.stderr


def test_kill_9_then_rerun_from_the_last_state_loses_nothing(hubspot, config, tmp_path):
    config.update(batch_size_rows=10)
    process = start_target(tmp_path, config, stderr=subprocess.DEVNULL)
    process.stdin.write(contacts_input(25, state_every=5))
    process.stdin.flush()
    last_state = json.loads(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    held = {c["properties"]["email"] for c in hubspot.contacts}
    assert {contact(n)["email"] for n in range(1, last_state["n"] + 1)} <= held

    resumed_from = last_state["n"] + 1
    rerun = run_target(tmp_path, config, contacts_input(30 - last_state["n"], 5, resumed_from))

    assert rerun.returncode == 0, rerun.stderr
    assert {c["properties"]["email"] for c in hubspot.contacts} == {
        contact(n)["email"] for n in range(1, 31)
    }


def test_the_run_ends_with_a_summary_and_singer_metrics(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=503)

    result = run_target(tmp_path, config, contacts_input(3))

    assert (
        "HubSpot contacts: 3 created, 0 updated, 0 unchanged, 0 archived, "
        "0 deletions found no contact, 0 skipped, 0 rejected; "
        "3 API calls, 1 retries, 0 rate-limited (429). "
        "3 records read, 0 of them merged into another record's call."
    ) in result.stderr
    metrics = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in result.stderr.splitlines()
        if "METRIC: " in line
    ]
    by_name = {m["metric"]: m["value"] for m in metrics if m["type"] == "counter"}
    assert by_name["contacts_created"] == 3
    assert by_name["http_request_count"] == 3
    assert by_name["http_retry_count"] == 1
    # A figure that is 0 is left out: its line would say nothing.
    assert "contacts_updated" not in by_name
    assert "http_rate_limited_count" not in by_name


def test_a_record_breaking_its_schema_is_rejected_alone(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=2)
    properties = {
        "email": {"type": "string"},
        "first_name": {"type": ["string", "null"]},
        "last_login_at": {"type": ["string", "null"], "format": "date-time"},
    }
    messages = [
        schema(properties=properties),
        record(contact(1)),
        record({"email": "typed@example.com", "first_name": 42}),
        record({"email": "dated@example.com", "last_login_at": "the day before yesterday"}),
        record(contact(2)),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 2
    reasons = {entry["id"]: entry["reason"] for entry in read_rejects(rejects)}
    assert reasons["typed@example.com"]["code"] == "INVALID_RECORD"
    assert "first_name must be string or null" in reasons["typed@example.com"]["message"]
    assert "unparseable date" in reasons["dated@example.com"]["message"]


def test_a_batch_message_stops_the_run_instead_of_being_skipped(config, tmp_path):
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_text(json.dumps(contact(2)) + "\n")
    batch = {
        "type": "BATCH",
        "stream": "contacts",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [batch_file.as_uri()],
    }
    messages = [schema(), record(contact(1)), batch, state({"n": 2})]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    assert "takes RECORD messages only" in result.stderr
    assert printed_states(result.stdout) == []


def test_a_property_made_read_only_mid_run_stops_the_run_instead_of_rejecting_all(
    hubspot, config, tmp_path
):
    hubspot.latency = 0.3
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=100)
    properties = {"email": {"type": "string"}, "job_title": {"type": "string"}}
    process = start_target(tmp_path, config)
    messages = [schema(properties=properties)]
    messages += [record({"email": f"p{n}@example.com", "job_title": "CTO"}) for n in range(5)]
    process.stdin.write(lines(messages))
    process.stdin.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        call.answered_at for call in hubspot.calls("/properties/2026-03/contacts")
    ):
        time.sleep(0.01)
    hubspot.add_property(
        {
            "name": "jobtitle",
            "label": "Job Title",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "modificationMetadata": {"readOnlyValue": True},
        }
    )

    process.wait(timeout=30)
    stderr = process.stderr.read()

    assert process.returncode == 1
    assert "HubSpot refused property 'jobtitle' for every contact" in stderr
    assert not (tmp_path / "rejects.jsonl").exists()
