"""How a run ends: any failure, in any thread, ends it promptly with the summary, then the
error as its last line; a signal during an outage stops retrying at once."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from tests.helpers import contact, lines, record, run_target, schema, start_target, state

SUMMARY = "HubSpot contacts: "


def send(process: subprocess.Popen, messages: list[dict]) -> None:
    process.stdin.write(lines(messages))
    process.stdin.flush()


def wait_for_state(process: subprocess.Popen, value: dict) -> None:
    while (line := process.stdout.readline()) and json.loads(line) != value:
        pass
    assert line, f"the target ended without printing {value}"


def wait_for_calls(hubspot, path: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(hubspot.calls(path)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} calls to {path}"
        time.sleep(0.05)


def log_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_ends_with_summary_then(stderr: str, last: str) -> None:
    logged = log_lines(stderr)
    assert last in logged[-1]
    summary = next(i for i, line in enumerate(logged) if SUMMARY in line)
    assert all("METRIC" in line for line in logged[summary + 1 : -1])


def test_a_failed_call_ends_the_run_at_once_though_the_tap_is_quiet(hubspot, config, tmp_path):
    refused = {"status": "error", "message": "Bad request", "category": "BAD_REQUEST"}
    hubspot.inject("/batch/upsert", status=400, body=refused)
    process = start_target(tmp_path, config)
    send(process, [schema(), record(contact(1)), record(contact(2)), state({"n": 2})])

    returncode = process.wait(timeout=30)  # input stays open: the tap is only quiet

    stderr = process.stderr.read()
    assert returncode == 1
    assert process.stdout.read() == ""
    assert_ends_with_summary_then(stderr, "400 BAD_REQUEST: Bad request")


def test_the_error_that_ends_a_run_is_its_last_line_after_summary_and_metrics(
    hubspot, config, tmp_path
):
    hubspot.inject("/batch/upsert", status=429, body={"policyName": "DAILY", "message": "spent"})

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 1
    assert_ends_with_summary_then(result.stderr, "daily API limit for this account is spent")


def test_sigterm_during_an_outage_stops_retrying_at_once(hubspot, config, tmp_path):
    config.update(max_retry_seconds=600)
    process = start_target(tmp_path, config)
    send(process, [schema(), *(record(contact(n)) for n in range(1, 6)), state({"n": 5})])
    wait_for_state(process, {"n": 5})
    hubspot.inject("/batch/upsert", status=503, times=1000)
    send(process, [*(record(contact(n)) for n in range(6, 11)), state({"n": 10})])
    wait_for_calls(hubspot, "/batch/upsert", 3)  # the written call, then the outage

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)

    assert time.monotonic() - started < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert stdout == ""  # STATE stays at {"n": 5}, where the written records put it
    assert len(hubspot.contacts) == 5
    assert_ends_with_summary_then(stderr, "Stopped by signal 15: 5 record(s) read were not written")


def test_sigterm_during_an_outage_while_flushing_the_end_of_input_stops_at_once(
    hubspot, config, tmp_path
):
    config.update(max_retry_seconds=600)
    hubspot.inject("/batch/upsert", status=503, times=1000)
    process = start_target(tmp_path, config)
    send(process, [schema(), record(contact(1)), state({"n": 1})])
    process.stdin.close()  # the target now waits on HubSpot to finish
    process.stdin = None
    wait_for_calls(hubspot, "/batch/upsert", 2)

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)

    assert time.monotonic() - started < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert stdout == ""
    assert_ends_with_summary_then(stderr, "Stopped by signal 15: 1 record(s) read were not written")


def test_an_unexpected_error_ends_the_run_with_the_summary_without_waiting_for_retries(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(max_retry_seconds=600, batch_size_rows=2, rejects_path=str(rejects))
    hubspot.inject("/batch/upsert", status=503, times=1000)
    process = start_target(tmp_path, config)
    send(process, [schema(), record(contact(1)), record(contact(2))])  # one call, retrying
    wait_for_calls(hubspot, "/batch/upsert", 1)
    rejects.mkdir()  # the rejects file can no longer be written, as on a full or broken disk

    started = time.monotonic()
    send(process, [record({"email": "not-an-email"})])
    returncode = process.wait(timeout=60)

    assert time.monotonic() - started < 10
    assert returncode == 1
    stderr = process.stderr.read()
    assert "Traceback" in stderr
    assert_ends_with_summary_then(
        stderr, "Stopped by an unexpected error (traceback above): IsADirectoryError"
    )
