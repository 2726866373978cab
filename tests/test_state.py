"""STATE placement: every STATE printed is covered by what HubSpot holds at that moment."""

from __future__ import annotations

import contextlib
import io
import json
import select

import pytest

from target_hubspot_contacts.target import TargetHubSpotContacts
from tests.helpers import (
    contact,
    fixture_text,
    lines,
    record,
    run_target,
    schema,
    start_target,
    state,
)


class StateSnapshots(io.StringIO):
    """Stands in for stdout: on each STATE line, notes which emails the server holds."""

    def __init__(self, hubspot) -> None:
        super().__init__()
        self._hubspot = hubspot
        self._partial = ""
        self.states: list[dict] = []
        self.held_at_state: list[set[str]] = []

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.strip():
                self.states.append(json.loads(line))
                self.held_at_state.append(
                    {c["properties"].get("email") for c in self._hubspot.contacts}
                )
        return len(text)


def run_in_process(config: dict, text: str, hubspot) -> StateSnapshots:
    """Run the target on `text` in this process, snapshotting the server at each STATE."""
    snapshots = StateSnapshots(hubspot)
    target = TargetHubSpotContacts(config=config, parse_env_config=False)
    with contextlib.redirect_stdout(snapshots):
        target.listen(io.StringIO(text))
    return snapshots


def emails_before_each_state(messages: list[dict]) -> dict[str, set[str]]:
    """For each STATE value in the input, the emails of the records read before it."""
    seen: set[str] = set()
    covered: dict[str, set[str]] = {}
    for message in messages:
        if message["type"] == "RECORD":
            seen.add(message["record"]["email"].strip().lower())
        elif message["type"] == "STATE":
            covered[json.dumps(message["value"], sort_keys=True)] = set(seen)
    return covered


def interleaved(records: int, state_every: int) -> list[dict]:
    """Records with a STATE after every `state_every` of them."""
    messages = [schema()]
    for number in range(1, records + 1):
        messages.append(record(contact(number)))
        if number % state_every == 0:
            messages.append(state({"bookmarks": {"contacts": {"n": number}}}))
    return messages


@pytest.mark.parametrize("max_concurrency", [1, 3, None], ids=["1", "3", "default"])
def test_each_printed_state_is_covered_by_what_hubspot_holds(hubspot, config, max_concurrency):
    hubspot.latency = 0.02
    messages = interleaved(records=47, state_every=5)
    config.update(batch_size_rows=4)
    if max_concurrency:
        config.update(max_concurrency=max_concurrency)

    out = run_in_process(config, lines(messages), hubspot)

    required = emails_before_each_state(messages)
    assert len(out.states) >= 5, "a STATE should follow each completed batch, not only the end"
    for value, held in zip(out.states, out.held_at_state, strict=True):
        assert required[json.dumps(value, sort_keys=True)] <= held


def test_states_are_printed_while_input_is_still_flowing(hubspot, config):
    messages = interleaved(records=30, state_every=10)
    config.update(batch_size_rows=10, max_concurrency=1)

    out = run_in_process(config, lines(messages), hubspot)

    assert out.states == [
        {"bookmarks": {"contacts": {"n": 10}}},
        {"bookmarks": {"contacts": {"n": 20}}},
        {"bookmarks": {"contacts": {"n": 30}}},
    ]
    assert [len(held) for held in out.held_at_state] == [10, 20, 30]


def test_final_state_is_the_last_input_state(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("contacts_with_states.singer"))

    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed[-1] == {"bookmarks": {"contacts": {"updated_at": "2026-01-03"}}}
    assert len(hubspot.contacts) == 5


def test_no_state_is_printed_for_a_batch_hubspot_did_not_take(hubspot, config, tmp_path):
    hubspot.inject("/batch/upsert", status=500, times=1000)
    config.update(max_retry_seconds=1, batch_size_rows=3)
    messages = [state({"n": 0}), *interleaved(records=6, state_every=3)]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode != 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"n": 0}]
    assert "giving up" in result.stderr


def test_schema_change_never_lets_newer_records_overtake_older_ones(hubspot, config):
    old_schema = schema()
    new_schema = schema(
        properties={**old_schema["schema"]["properties"], "job_title": {"type": "string"}}
    )
    messages = [
        old_schema,
        record({"email": "ada@example.com", "first_name": "Old"}),
        new_schema,
        record({"email": "ada@example.com", "first_name": "New", "job_title": "CTO"}),
        record(contact(2)),
    ]
    config.update(batch_size_rows=2)

    run_in_process(config, lines(messages), hubspot)

    ada = hubspot.contact(email="ada@example.com")
    assert ada["properties"]["firstname"] == "New"
    assert ada["properties"]["jobtitle"] == "CTO"


def test_a_slow_first_call_holds_back_state_until_it_answers(hubspot, config):
    hubspot.inject("/batch/upsert", delay=0.5)  # the first call answers after the later ones
    messages = interleaved(records=40, state_every=5)
    config.update(batch_size_rows=5, max_concurrency=4)

    out = run_in_process(config, lines(messages), hubspot)

    required = emails_before_each_state(messages)
    for value, held in zip(out.states, out.held_at_state, strict=True):
        assert required[json.dumps(value, sort_keys=True)] <= held
    first_call = hubspot.calls("/batch/upsert")[0]
    later_answers = [c.answered_at for c in hubspot.calls("/batch/upsert")[1:4]]
    assert max(later_answers) < first_call.answered_at, "the calls did finish out of order"
    assert out.states[-1] == {"bookmarks": {"contacts": {"n": 40}}}


def test_state_is_printed_while_the_tap_is_quiet_after_a_partial_batch(hubspot, config, tmp_path):
    process = start_target(tmp_path, config)
    process.stdin.write(lines([schema(), record(contact(1)), record(contact(2)), state({"n": 2})]))
    process.stdin.flush()  # and then the tap says nothing more for a while

    ready, _, _ = select.select([process.stdout], [], [], 10)
    line = process.stdout.readline() if ready else ""
    process.stdin.close()
    process.wait(timeout=30)

    assert json.loads(line) == {"n": 2}
    assert len(hubspot.contacts) == 2
