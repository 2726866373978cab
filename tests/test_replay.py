"""Replay: rejected records printed back as Singer messages and sent again once fixed."""

from __future__ import annotations

import io
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from target_hubspot_contacts.emulator.properties import default_properties
from target_hubspot_contacts.replay import replay
from tests.helpers import (
    clean_env,
    contact,
    lines,
    record,
    run_target,
    schema,
    state,
    target_command,
    write_config,
)
from tests.sync_stores import batch_calls, sync

INSTALLED = pathlib.Path(sys.executable).parent  # the console scripts of the installed target
REPLAY = [str(INSTALLED / "target-hubspot-contacts-replay")]
PLAN_FIELDS = {
    "email": {"type": "string"},
    "plan": {"type": ["string", "null"]},
    "lifetime_value": {"type": ["number", "null"]},
    "last_login_at": {"type": ["string", "null"], "format": "date-time"},
}


def rejects_of(tmp_path: pathlib.Path, config: dict, text: str) -> pathlib.Path:
    """Run the target on `text`, keeping rejected records; the rejects file."""
    rejects = tmp_path / "rejects.jsonl"
    settings = {**config, "rejects_path": str(rejects), "max_rejects": 100}
    result = run_target(tmp_path, settings, text)
    assert result.returncode == 0, result.stderr
    return rejects


def singer_messages(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_rejected_records_are_sent_again_once_the_cause_is_fixed(hubspot, config, tmp_path):
    platinum = {
        "email": "ada@example.com",
        "plan": "platinum",
        "lifetime_value": 1234.50,
        "last_login_at": "2026-03-01T09:30:00+01:00",
    }
    text = lines([schema(properties=PLAN_FIELDS), record(platinum), state({"n": 1})])
    rejects = rejects_of(tmp_path, config, text)
    assert hubspot.contact(email="ada@example.com") is None
    add_platinum_plan(hubspot)

    (tmp_path / "replay").mkdir()
    config_path = write_config(tmp_path / "replay", config)
    replayer = subprocess.Popen(
        [*REPLAY, str(rejects)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    target = subprocess.run(
        target_command(config_path),
        stdin=replayer.stdout,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    replayer.stdout.close()

    assert replayer.wait(timeout=30) == 0
    assert b"Replayed 1 rejected record(s)." in replayer.stderr.read()
    assert target.returncode == 0, target.stderr
    written = hubspot.contact(email="ada@example.com")["properties"]
    assert written["plan"] == "platinum"
    assert written["lifetime_value"] == "1234.5"
    assert written["last_login_at"] == "2026-03-01T08:30:00.000Z"


def test_with_a_sync_store_a_replayed_reject_is_written_once_and_the_next_run_sends_nothing(
    hubspot, config, store, tmp_path
):
    plans = {1: "pro", 2: "free", 3: "enterprise", 4: "platinum"}
    rows = [contact(number, plan=plan) for number, plan in plans.items()]
    fields = {**PLAN_FIELDS, "first_name": {"type": ["string", "null"]}}
    text = lines([schema(properties=fields), *map(record, rows), state({"n": 4})])
    settings = sync(config, store, rejects_path="rejects.jsonl", max_rejects=1)

    first = run_target(tmp_path, settings, text)
    add_platinum_plan(hubspot)
    (tmp_path / "rejects.jsonl").rename(tmp_path / "rejects-1.jsonl")
    # The README's command, with the installed console scripts.
    replayed = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            "target-hubspot-contacts-replay rejects-1.jsonl "
            "| target-hubspot-contacts --config config.json",
        ],
        cwd=tmp_path,
        env=clean_env(PATH=f"{INSTALLED}:{os.environ['PATH']}"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls_before_rerun = batch_calls(hubspot)
    rerun = run_target(tmp_path, settings, text)

    assert first.returncode == 0, first.stderr
    assert "3 created, 0 updated, 0 unchanged" in first.stderr
    assert "1 rejected;" in first.stderr
    assert replayed.returncode == 0, replayed.stderr
    assert "Replayed 1 rejected record(s)." in replayed.stderr
    assert "1 created, 0 updated, 0 unchanged" in replayed.stderr
    assert "0 rejected;" in replayed.stderr
    assert hubspot.contact(email=rows[3]["email"])["properties"]["plan"] == "platinum"
    assert rerun.returncode == 0, rerun.stderr
    assert "0 created, 0 updated, 4 unchanged" in rerun.stderr
    assert "0 rejected;" in rerun.stderr
    assert batch_calls(hubspot) == calls_before_rerun
    assert set(store.rows()) == {row["email"] for row in rows}
    assert not (tmp_path / "rejects.jsonl").exists()


def test_replay_prints_each_streams_schema_then_its_records_in_file_order(config, tmp_path):
    bad = {"plan": "platinum"}
    leads = {"email": {"type": "string"}, "plan": {"type": ["string", "null"]}}
    text = lines(
        [
            schema("customers", PLAN_FIELDS),
            schema("leads", leads, keys=()),
            record({"email": "a@example.com", **bad}, "customers"),
            record({"email": "b@example.com", **bad}, "leads"),
            record({"email": "c@example.com", **bad}, "customers"),
            state({"n": 3}),
        ]
    )
    rejects = rejects_of(tmp_path, config, text)

    result = subprocess.run([*REPLAY, str(rejects)], capture_output=True, text=True, check=True)

    messages = singer_messages(result.stdout)
    assert [(m["type"], m["stream"]) for m in messages] == [
        ("SCHEMA", "customers"),
        ("RECORD", "customers"),
        ("SCHEMA", "leads"),
        ("RECORD", "leads"),
        ("RECORD", "customers"),
    ]
    assert messages[0]["schema"]["properties"] == PLAN_FIELDS
    assert messages[0]["key_properties"] == ["email"]
    assert messages[2]["key_properties"] == []
    assert [m["record"]["email"] for m in messages if m["type"] == "RECORD"] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


def test_replay_reads_a_file_only_as_far_as_it_reached_when_replay_started(config, tmp_path):
    text = lines([schema(properties=PLAN_FIELDS), record({"email": "a@example.com", "plan": "x"})])
    rejects = rejects_of(tmp_path, config, text)
    original = rejects.read_bytes()

    class AppendingOutput(io.BytesIO):
        """Like a target rejecting the replayed record again into the same file as it reads
        (a few times, so that a replay that kept reading would fail rather than hang)."""

        appended = 0

        def write(self, data: bytes) -> int:
            if self.appended < 3:
                self.appended += 1
                with rejects.open("ab") as file:
                    file.write(original)
            return super().write(data)

    out = AppendingOutput()
    count = replay([rejects], out)

    assert count == 1
    assert len(singer_messages(out.getvalue().decode())) == 2  # its SCHEMA and its RECORD


def test_replay_gives_each_record_the_schema_of_its_own_run(config, tmp_path):
    narrow = schema(properties={"email": {"type": "string"}, "plan": {"type": ["string", "null"]}})
    rejects_of(tmp_path, config, lines([narrow, record({"email": "a", "plan": "x"})]))
    text = lines([schema(properties=PLAN_FIELDS), *(record({"email": e}) for e in "bc")])
    rejects = rejects_of(tmp_path, config, text)  # the next run appends to the same file

    result = subprocess.run([*REPLAY, str(rejects)], capture_output=True, text=True, check=True)

    messages = singer_messages(result.stdout)
    assert [(m["type"], m.get("record", {}).get("email")) for m in messages] == [
        ("SCHEMA", None),
        ("RECORD", "a"),
        ("SCHEMA", None),
        ("RECORD", "b"),
        ("RECORD", "c"),
    ]
    assert messages[0]["schema"] == narrow["schema"]
    assert messages[2]["schema"]["properties"] == PLAN_FIELDS


def test_replay_reads_a_file_of_an_earlier_version_with_the_schema_on_every_line(tmp_path):
    earlier = tmp_path / "rejects.jsonl"
    described = {"stream": "contacts", **{k: schema()[k] for k in ("schema", "key_properties")}}
    earlier.write_text(
        "".join(
            json.dumps({"run_id": "r1", **described, "reason": {}, "record": {"email": email}})
            + "\n"
            for email in ("a", "b")
        )
    )

    result = subprocess.run([*REPLAY, str(earlier)], capture_output=True, text=True, check=True)

    messages = singer_messages(result.stdout)
    assert [m["type"] for m in messages] == ["SCHEMA", "RECORD", "RECORD"]
    assert messages[0]["schema"] == schema()["schema"]


def test_a_line_whose_runs_schema_line_was_removed_is_refused_naming_the_file_and_line(
    config, tmp_path
):
    rejects = rejects_of(
        tmp_path, config, lines([schema(), record({"email": "a"}), record({"email": "b"})])
    )
    rejects.write_text(rejects.read_text().split("\n", 1)[1])  # the line with the schema

    result = subprocess.run([*REPLAY, str(rejects)], capture_output=True, text=True, check=False)

    assert result.returncode == 1
    assert f"{rejects}:1: the line has no schema, and no earlier line of its run" in result.stderr
    assert result.stdout == ""


def test_a_line_without_a_schema_is_refused_naming_the_file_and_line(tmp_path):
    legacy = tmp_path / "old-rejects.jsonl"
    entry = {"rejected_at": "2026-01-01T00:00:00+00:00", "stream": "contacts", "id": "a"}
    legacy.write_text(json.dumps({**entry, "reason": {}, "record": {"email": "a"}}) + "\n")

    result = subprocess.run([*REPLAY, str(legacy)], capture_output=True, text=True, check=False)

    assert result.returncode == 1
    assert f"{legacy}:1: the line has no schema" in result.stderr
    assert result.stdout == ""


def replayed_run(tmp_path: pathlib.Path, config: dict, rejects: pathlib.Path):
    """Replay a rejects file into the target with these settings (a new rejects file)."""
    replayed = subprocess.run([*REPLAY, str(rejects)], capture_output=True, text=True, check=True)
    (tmp_path / "replay").mkdir()
    again = tmp_path / "replay" / "rejects.jsonl"
    settings = {**config, "rejects_path": str(again), "max_rejects": 100}
    return replayed.stdout, run_target(tmp_path / "replay", settings, replayed.stdout), again


def test_a_record_rejected_for_nan_is_replayed_with_nan_and_clears_nothing(
    hubspot, config, tmp_path
):
    config.update(null_values="clear")
    (tmp_path / "first").mkdir()
    ada = {"email": "ada@example.com", "lifetime_value": 100}
    run_target(tmp_path / "first", config, lines([schema(properties=PLAN_FIELDS), record(ada)]))
    nan = {"email": "ada@example.com", "lifetime_value": float("nan")}  # written as NaN
    rejects = rejects_of(tmp_path, config, lines([schema(properties=PLAN_FIELDS), record(nan)]))
    assert math.isnan(json.loads(rejects.read_text())["record"]["lifetime_value"])

    replayed, result, again = replayed_run(tmp_path, config, rejects)

    assert '"lifetime_value":NaN' in replayed
    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="ada@example.com")["properties"]["lifetime_value"] == "100"
    assert "not a finite number" in json.loads(again.read_text())["reason"]["message"]


def test_a_record_rejected_for_infinity_is_rejected_again_on_replay_not_created(
    hubspot, config, tmp_path
):
    infinite = {"email": "ada@example.com", "lifetime_value": float("-inf")}
    rejects = rejects_of(
        tmp_path, config, lines([schema(properties=PLAN_FIELDS), record(infinite)])
    )

    replayed, result, again = replayed_run(tmp_path, config, rejects)

    assert '"lifetime_value":-Infinity' in replayed
    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="ada@example.com") is None
    assert json.loads(again.read_text())["id"] == "ada@example.com"


def test_a_record_with_a_lone_surrogate_keeps_its_exact_numbers_through_replay(config, tmp_path):
    text = lines([schema(properties=PLAN_FIELDS)]) + (
        '{"type": "RECORD", "stream": "contacts", "record": {"email": "ada@example.com", '
        '"plan": "Half \\ud800 a pair", "lifetime_value": 12345678901234567.89}}\n'
    )
    rejects = rejects_of(tmp_path, config, text)

    replayed = subprocess.run([*REPLAY, str(rejects)], capture_output=True, text=True, check=True)

    kept = rejects.read_text()
    assert '"lifetime_value":12345678901234567.89' in kept
    assert '"plan":"Half \\ud800 a pair"' in kept
    (record_line,) = [line for line in replayed.stdout.splitlines() if '"RECORD"' in line]
    assert '"lifetime_value":12345678901234567.89' in record_line
    assert '"plan":"Half \\ud800 a pair"' in record_line


# --- replay through the same `stream_maps` ---------------------------------------------------

PEOPLE_FIELDS = {
    "email": {"type": "string"},
    "work_email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
    "plan": {"type": ["string", "null"]},
}
# The tap's stream `people` becomes `contacts`, `first_name` HubSpot's `firstname`, in capitals;
# test addresses never reach HubSpot.
PEOPLE_TO_CONTACTS = {
    "people": {
        "__alias__": "contacts",
        "__filter__": "not email.endswith('@test.example')",
        "firstname": "first_name.upper()",
        "first_name": "__NULL__",
        "work_email": "__NULL__",
    }
}
# Each person is also a lead, keyed by the work email.
PEOPLE_AND_LEADS = {
    "people": {"work_email": "__NULL__"},
    "leads": {"__source__": "people", "email": "work_email", "work_email": "__NULL__"},
}


def without_alias(stream_map: dict) -> dict:
    return {key: value for key, value in stream_map.items() if key != "__alias__"}


def add_platinum_plan(hubspot) -> None:
    """The fix for records rejected for `plan: platinum`: the option exists from now on."""
    plan = next(p for p in default_properties() if p["name"] == "plan")
    hubspot.add_property(
        {**plan, "options": [*plan["options"], {"label": "Platinum", "value": "platinum"}]}
    )


def people(*records: dict) -> str:
    return lines([schema("people", PEOPLE_FIELDS), *(record(r, "people") for r in records)])


@pytest.mark.parametrize(
    "stream_maps",
    [
        pytest.param(PEOPLE_TO_CONTACTS, id="renamed-stream"),
        pytest.param({"people": without_alias(PEOPLE_TO_CONTACTS["people"])}, id="same-stream"),
    ],
)
def test_records_rejected_through_stream_maps_are_replayed_through_the_same_config(
    hubspot, config, tmp_path, stream_maps
):
    config.update(stream_maps=stream_maps)
    ada = {"email": "ada@example.com", "first_name": "Ada", "plan": "platinum"}
    rejects = rejects_of(
        tmp_path,
        config,
        people(ada, {"email": "bot@test.example", "plan": "platinum"}),  # filtered out
    )
    add_platinum_plan(hubspot)

    replayed, result, again = replayed_run(tmp_path, config, rejects)

    messages = singer_messages(replayed)
    assert [(m["type"], m["stream"]) for m in messages] == [
        ("SCHEMA", "people"),
        ("RECORD", "people"),
    ]
    assert messages[0]["schema"]["properties"] == PEOPLE_FIELDS  # as the tap sent it
    assert messages[1]["record"] == ada
    assert result.returncode == 0, result.stderr
    assert not again.exists()
    written = hubspot.contact(email="ada@example.com")["properties"]
    assert (written["firstname"], written["plan"]) == ("ADA", "platinum")
    assert hubspot.contact(email="bot@test.example") is None


def test_a_record_a_map_failed_on_is_written_once_the_map_is_fixed(hubspot, config, tmp_path):
    config.update(stream_maps=PEOPLE_TO_CONTACTS)
    nameless = {"email": "bob@example.com", "first_name": None}
    rejects = rejects_of(tmp_path, config, people(nameless))
    nameless_upper = "(first_name or 'friend').upper()"
    config.update(
        stream_maps={"people": {**PEOPLE_TO_CONTACTS["people"], "firstname": nameless_upper}}
    )

    _, result, _ = replayed_run(tmp_path, config, rejects)

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="bob@example.com")["properties"]["firstname"] == "FRIEND"


def test_a_record_rejected_from_both_streams_a_map_splits_it_into_is_replayed_once(
    hubspot, config, tmp_path
):
    config.update(stream_maps=PEOPLE_AND_LEADS)
    ada = {"email": "ada@example.com", "work_email": "ada@work.example", "plan": "platinum"}
    rejects = rejects_of(tmp_path, config, people(ada))
    mapped = [json.loads(line).get("mapped_stream", "people") for line in rejects.open()]
    assert sorted(mapped) == ["leads", "people"]
    add_platinum_plan(hubspot)

    replayed, result, _ = replayed_run(tmp_path, config, rejects)

    assert [m["record"] for m in singer_messages(replayed) if m["type"] == "RECORD"] == [ada]
    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="ada@example.com")["properties"]["plan"] == "platinum"
    assert hubspot.contact(email="ada@work.example")["properties"]["plan"] == "platinum"
