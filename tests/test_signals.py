"""SIGTERM: calls in flight finish, STATE covers only what was written, exit says the truth."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

from tests.helpers import (
    contact,
    lines,
    record,
    schema,
    start_target,
    state,
)


def send(process: subprocess.Popen, messages: list[dict]) -> None:
    process.stdin.write(lines(messages))
    process.stdin.flush()


def records_with_states(first: int, last: int) -> list[dict]:
    messages = []
    for number in range(first, last + 1):
        messages.append(record(contact(number)))
        if number % 5 == 0:
            messages.append(state({"n": number}))
    return messages


def end_input(process: subprocess.Popen) -> None:
    """Close the target's stdin, as a tap does when it is done."""
    process.stdin.close()
    process.stdin = None  # so that communicate() does not flush it


def wait_for_state(process: subprocess.Popen, value: dict) -> None:
    """Read STATE lines until `value` (calls may finish out of order, so some may be skipped)."""
    while (line := process.stdout.readline()) and json.loads(line) != value:
        pass
    assert line, f"the target ended without printing {value}"


def sent(hubspot, email: str) -> bool:
    """Whether a call carrying this contact has reached the server (the STATE after the last
    record is read by then: the call goes out as that record fills the batch)."""
    calls = hubspot.calls("/batch/upsert")
    return any(item["id"] == email for call in calls for item in call.body["inputs"])


def stop(process: subprocess.Popen) -> tuple[int, list[dict], str]:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    return process.returncode, [json.loads(line) for line in stdout.splitlines()], stderr


def test_sigterm_with_records_unwritten_exits_non_zero(hubspot, config, tmp_path):
    config.update(batch_size_rows=10)
    process = start_target(tmp_path, config)
    send(process, [schema(), *records_with_states(1, 25)])
    wait_for_state(process, {"n": 20})

    returncode, states, stderr = stop(process)

    assert returncode == 128 + signal.SIGTERM
    assert states == []
    assert len(hubspot.contacts) == 20
    (stop_line,) = [line for line in stderr.splitlines() if "Stopped by signal" in line]
    assert "Stopped by signal 15: 5 record(s) read were not written: the signal came first." in (
        stop_line
    )
    assert "reject" not in stop_line


def test_sigterm_with_everything_written_exits_zero(hubspot, config, tmp_path):
    config.update(batch_size_rows=10)
    process = start_target(tmp_path, config)
    send(process, [schema(), *records_with_states(1, 20)])
    wait_for_state(process, {"n": 20})

    returncode, states, _ = stop(process)

    assert returncode == 0
    assert states == []
    assert len(hubspot.contacts) == 20


def test_sigterm_lets_the_call_in_flight_finish_and_settle(hubspot, config, tmp_path):
    hubspot.latency = 1.0
    config.update(batch_size_rows=10)
    process = start_target(tmp_path, config)
    send(process, [schema(), *records_with_states(1, 10)])
    deadline = time.monotonic() + 10
    while not sent(hubspot, "person10@example.com") and time.monotonic() < deadline:
        time.sleep(0.02)  # the server logs a call as it begins; this one takes 1 s

    returncode, states, _ = stop(process)

    assert returncode == 0
    assert states[-1] == {"n": 10}  # {"n": 5} first if a loaded machine split the call
    assert len(hubspot.contacts) == 10


def test_sigint_while_waiting_for_a_call_stops_before_sending_more(hubspot, config, tmp_path):
    hubspot.latency = 1.0
    config.update(batch_size_rows=10, max_concurrency=1)
    process = start_target(tmp_path, config)
    send(process, [schema(), *records_with_states(1, 30)])
    end_input(process)  # the target now flushes, waiting on HubSpot
    deadline = time.monotonic() + 10
    while len(hubspot.calls("/batch/upsert")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGINT
    assert len(hubspot.calls("/batch/upsert")) == 2
    assert [json.loads(line) for line in stdout.splitlines()][-1] == {"n": 20}
    assert "10 record(s) read were not written: the signal came first" in stderr


def test_a_second_signal_stops_at_once(hubspot, config, tmp_path):
    hubspot.latency = 3.0
    process = start_target(tmp_path, config)
    send(process, [schema(), record(contact(1))])
    end_input(process)
    deadline = time.monotonic() + 10
    while not hubspot.calls("/batch/upsert") and time.monotonic() < deadline:
        time.sleep(0.02)

    process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGTERM
    assert time.monotonic() - started < 1.5


def test_sigterm_after_too_many_rejects_exits_non_zero(hubspot, config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), batch_size_rows=2)
    process = start_target(tmp_path, config)
    messages = [schema(), record({"email": "bad"}), record(contact(1)), record(contact(2))]
    send(process, [*messages, state({"n": 3})])
    deadline = time.monotonic() + 30
    while len(hubspot.contacts) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # the bad record, read first, is rejected by now

    returncode, states, stderr = stop(process)

    assert returncode == 128 + signal.SIGTERM
    assert states == []  # STATE stops before the reject past `max_rejects`
    (stop_line,) = [line for line in stderr.splitlines() if "Stopped by signal" in line]
    assert "Stopped by signal 15: 1 record(s) were rejected (kept in" in stop_line
    assert "more than `max_rejects` (0)" in stop_line
    assert "not written" not in stop_line


def test_sigterm_while_calls_wait_out_a_429_pause_sends_nothing_more(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=429, headers={"Retry-After": "600"})
    config.update(batch_size_rows=10, max_retry_seconds=900)
    process = start_target(tmp_path, config)
    send(process, [schema(), *records_with_states(1, 30)])
    deadline = time.monotonic() + 30
    while not hubspot.calls("/batch/upsert") and time.monotonic() < deadline:
        time.sleep(0.02)  # the first call got its 429; the others now wait out its pause
    time.sleep(0.5)
    signalled_at = time.monotonic()

    returncode, states, stderr = stop(process)  # well before the 600 s pause would end

    assert returncode == 128 + signal.SIGTERM
    assert [call.at for call in hubspot.calls("/batch/upsert") if call.at > signalled_at] == []
    assert states == []
    assert hubspot.contacts == []
    # Every record read by then (the first call's ten at least; how many more depends on the
    # machine's speed) is named unwritten.
    unwritten = re.search(r"(\d+) record\(s\) read were not written: the signal came first", stderr)
    assert unwritten is not None, stderr
    assert 10 <= int(unwritten[1]) <= 30
