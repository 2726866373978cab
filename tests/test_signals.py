"""SIGTERM: calls in flight finish, STATE covers only what was written, exit says the truth."""

from __future__ import annotations

import json
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


def wait_for_state(process: subprocess.Popen, value: dict) -> None:
    """Read STATE lines until `value` (calls may finish out of order, so some may be skipped)."""
    while (line := process.stdout.readline()) and json.loads(line) != value:
        pass
    assert line, f"the target ended without printing {value}"


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
    assert "5 record(s) not written" in stderr


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
    while not hubspot.calls("/batch/upsert") and time.monotonic() < deadline:
        time.sleep(0.02)  # the server logs a call as it begins; this one takes 1 s

    returncode, states, _ = stop(process)

    assert returncode == 0
    assert states == [{"n": 10}]
    assert len(hubspot.contacts) == 10
