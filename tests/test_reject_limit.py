"""Past `max_rejects` every valid record is still written, but STATE stops before the first
rejected record over the limit, so a rerun from the last STATE after the fix loads it."""

from __future__ import annotations

import json

from tests.helpers import (
    contact,
    lines,
    local_hubspot,
    printed_states,
    record,
    run_target,
    schema,
    state,
)

BAD_1, BAD_2 = {"email": "bad-one"}, {"email": "bad-two"}


def tap_output(second_bad: dict) -> list[dict]:
    return [
        schema(),
        record(contact(1)),
        state({"at": 1}),
        record(BAD_1),
        record(contact(2)),
        state({"at": 3}),
        record(second_bad),
        record(contact(3)),
        state({"at": 5}),
        record(contact(4)),
        state({"at": 6}),
    ]


def after_state(messages: list[dict], value: dict) -> list[dict]:
    """What a tap resends when started from the STATE `value`: the schema, then what follows."""
    position = messages.index(state(value))
    return [messages[0], *messages[position + 1 :]]


def test_past_max_rejects_valid_records_are_written_and_state_stops_before_the_excess(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1, batch_size_rows=1)

    result = run_target(tmp_path, config, lines(tap_output(BAD_2)))

    assert result.returncode == 1
    assert {c["properties"]["email"] for c in hubspot.contacts} == {
        f"person{n}@example.com" for n in (1, 2, 3, 4)
    }
    assert printed_states(result.stdout)[-1] == {"at": 3}
    kept = [json.loads(line)["id"] for line in rejects.read_text().splitlines()]
    assert kept == ["bad-one", "bad-two"]
    assert "more than `max_rejects` (1)" in result.stderr
    assert "STATE stops before the first rejected record past the limit" in result.stderr


def test_a_rerun_from_the_last_state_after_the_fix_loads_the_excess_record(
    hubspot, config, tmp_path
):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=1)
    first = run_target(tmp_path, config, lines(tap_output(BAD_2)))
    last_state = printed_states(first.stdout)[-1]
    fixed = tap_output({"email": "fixed@example.com"})

    rerun = run_target(tmp_path, config, lines(after_state(fixed, last_state)))

    assert rerun.returncode == 0, rerun.stderr
    assert hubspot.contact(email="fixed@example.com") is not None
    assert printed_states(rerun.stdout)[-1] == {"at": 6}


def test_within_max_rejects_state_moves_past_the_rejected_records(hubspot, config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=2)

    result = run_target(tmp_path, config, lines(tap_output(BAD_2)))

    assert result.returncode == 0, result.stderr
    assert printed_states(result.stdout)[-1] == {"at": 6}
    assert len(hubspot.contacts) == 4


def test_state_stops_before_the_first_reject_past_the_limit_in_read_order_not_answer_order(
    config, tmp_path
):
    with local_hubspot() as hubspot:
        hubspot.require_property("company")  # HubSpot refuses record 2 once its call answers
        config.update(
            api_url=hubspot.url,
            api_version="2026-09",
            rejects_path=str(tmp_path / "rejects.jsonl"),
            max_rejects=1,
        )
        messages = [
            schema(),
            record(contact(1, company="Acme")),
            state({"at": 1}),
            record(contact(2)),  # the first reject, within the limit, known last
            state({"at": 2}),
            record(contact(3, company="Acme")),
            state({"at": 3}),
            record({**contact(4, company="Acme"), "first_name": 123}),  # refused at once
            state({"at": 4}),
            record(contact(5, company="Acme")),
            state({"at": 5}),
        ]

        result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 1
    assert printed_states(result.stdout)[-1] == {"at": 3}
