"""`rejects_path`: a line per rejected record, the stream's schema once per run, and on disk
(fsync'ed, many lines at once) before any STATE passes the records it holds."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select

from target_hubspot_contacts.target import TargetHubSpotContacts
from tests.helpers import contact, lines, record, run_target, schema, start_target, state

LEADS = {"email": {"type": "string"}, "plan": {"type": ["string", "null"]}}


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def bad(number: int) -> dict:
    """A record the target rejects before sending (no HubSpot call)."""
    return {"email": f"not-an-email-{number}"}


def test_only_a_streams_first_rejected_line_in_a_run_holds_its_schema(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=10)
    messages = [
        schema(),
        schema("leads", LEADS, keys=()),
        record(bad(1)),
        record(bad(2), "leads"),
        record(bad(3)),
        record(bad(4), "leads"),
    ]

    for _ in range(2):  # a second run appends its own lines to the file
        assert run_target(tmp_path, config, lines(messages)).returncode == 0

    kept = read_lines(rejects)
    assert [(line["stream"], "schema" in line) for line in kept] == 2 * [
        ("contacts", True),
        ("leads", True),
        ("contacts", False),
        ("leads", False),
    ]
    assert kept[0]["schema"] == schema()["schema"]
    assert kept[0]["key_properties"] == ["email"]
    assert (kept[1]["schema"], kept[1]["key_properties"]) == (schema("leads", LEADS)["schema"], [])
    assert all("key_properties" not in line for line in kept if "schema" not in line)
    assert all(line["record"] and line["reason"] for line in kept)


def test_a_schema_change_in_a_run_is_kept_on_the_next_rejected_line(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=10)
    wider = schema(properties={**LEADS, "company": {"type": ["string", "null"]}})
    messages = [schema(), record(bad(1)), record(bad(2)), wider, record(bad(3)), record(bad(4))]

    assert run_target(tmp_path, config, lines(messages)).returncode == 0

    kept = read_lines(rejects)
    assert ["schema" in line for line in kept] == [True, False, True, False]
    assert kept[2]["schema"] == wider["schema"]


class StateWatch(io.StringIO):
    """Stands in for stdout: on each STATE line, notes how many rejects-file lines are on disk."""

    def __init__(self, synced: list[int]) -> None:
        super().__init__()
        self._synced = synced
        self._partial = ""
        self.states: list[tuple[dict, int]] = []

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.strip():
                self.states.append((json.loads(line), self._synced[-1]))
        return len(text)


def test_state_passes_records_rejected_before_sending_only_once_fsync_put_them_on_disk(
    config, tmp_path, monkeypatch
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=1000, batch_size_rows=5)
    synced = [0]  # lines of the rejects file on disk after each fsync

    def fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        synced.append(len(rejects.read_text().splitlines()))

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", fsync)
    messages, rejected, rejected_before = [schema()], 0, {}
    for number in range(1, 61):  # the first 12 are rejected: no answer holds their STATEs back
        good = number > 12 and number % 3 == 0
        messages.append(record(contact(number) if good else bad(number)))
        rejected += not good
        if number % 6 == 0:
            messages.append(state({"n": number}))
            rejected_before[number] = rejected
    out = StateWatch(synced)

    with contextlib.redirect_stdout(out):
        TargetHubSpotContacts(config=config, parse_env_config=False).listen(
            io.StringIO(lines(messages))
        )

    assert out.states[-1] == ({"n": 60}, rejected)
    for value, on_disk in out.states:
        assert on_disk >= rejected_before[value["n"]], value
    assert len(synced) - 1 < rejected, "rejected records share their fsyncs"


def test_records_rejected_before_sending_let_state_move_while_the_tap_is_quiet(config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=10)
    process = start_target(tmp_path, config)
    process.stdin.write(lines([schema(), *map(record, map(bad, range(3))), state({"n": 3})]))
    process.stdin.flush()  # and then the tap says nothing more for a while

    ready, _, _ = select.select([process.stdout], [], [], 10)
    line = process.stdout.readline() if ready else ""
    process.stdin.close()
    process.wait(timeout=30)

    assert json.loads(line) == {"n": 3}
    assert len(read_lines(rejects)) == 3
