"""Dry run, update-only and create-only writes, and deletions that archive contacts."""

from __future__ import annotations

import json

import pytest

from tests.helpers import lines, printed_states, record, run_target, schema, state

WRITE_PATHS = ("/batch/upsert", "/batch/create", "/batch/update", "/batch/archive")
DELETABLE = {
    "email": {"type": "string"},
    "first_name": {"type": ["string", "null"]},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
DELETED_AT = "2026-11-01T10:00:00Z"


@pytest.fixture
def existing(hubspot, config, tmp_path) -> dict:
    """A portal that already holds ada@example.com, written by a first run."""
    messages = [schema(), record({"email": "ada@example.com", "first_name": "Ada"})]
    result = run_target(tmp_path, config, lines(messages))
    assert result.returncode == 0, result.stderr
    return hubspot.contact(email="ada@example.com")


def live(hubspot) -> dict[str, dict]:
    """Properties of the contacts that are not archived, by email."""
    contacts = [c for c in hubspot.contacts if not c["archived"]]
    return {c["properties"]["email"]: c["properties"] for c in contacts}


def write_calls(hubspot) -> list:
    return [call for path in WRITE_PATHS for call in hubspot.calls(path)]


def ada_and_bob(*extra: dict) -> str:
    return lines(
        [
            schema(),
            record({"email": "ada@example.com", "first_name": "Ada Lovelace"}),
            record({"email": "bob@example.com", "first_name": "Bob"}),
            *extra,
            state({"n": 2}),
        ]
    )


def test_dry_run_reports_what_would_happen_and_writes_nothing(existing, hubspot, config, tmp_path):
    calls_before = len(write_calls(hubspot))
    config.update(dry_run=True, rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=1)

    result = run_target(tmp_path, config, ada_and_bob(record({"email": "not-an-email"})))

    assert result.returncode == 0, result.stderr
    assert (
        "Dry run, nothing written. HubSpot contacts: 1 would be created, 1 would be updated, "
        "0 unchanged, 0 would be archived, 0 deletions would find no contact, 0 would be "
        "skipped, 1 would be rejected;"
    ) in result.stderr
    assert len(write_calls(hubspot)) == calls_before
    assert live(hubspot) == {"ada@example.com": existing["properties"]}
    assert hubspot.calls("/batch/read")
    assert printed_states(result.stdout) == []


@pytest.mark.usefixtures("existing")
def test_update_only_updates_existing_contacts_and_skips_absent_ones(hubspot, config, tmp_path):
    outcomes = tmp_path / "outcomes.jsonl"
    config.update(write_mode="update_only", outcomes_path=str(outcomes))

    result = run_target(tmp_path, config, ada_and_bob())

    assert result.returncode == 0, result.stderr
    assert live(hubspot)["ada@example.com"]["firstname"] == "Ada Lovelace"
    assert "bob@example.com" not in live(hubspot)
    assert "1 updated" in result.stderr
    assert "1 skipped" in result.stderr
    bob = [json.loads(line) for line in outcomes.read_text().splitlines()][1]
    assert (bob["id"], bob["outcome"]) == ("bob@example.com", "skipped")
    assert bob["reason"]["message"].startswith("no contact with email 'bob@example.com'")
    assert "Skipped contact" not in result.stderr  # one line per contact is for the file
    assert hubspot.calls("/batch/upsert")[1:] == []  # only the seeding run upserted
    assert printed_states(result.stdout) == [{"n": 2}]


@pytest.mark.usefixtures("existing")
def test_create_only_creates_absent_contacts_and_leaves_existing_ones(hubspot, config, tmp_path):
    config["write_mode"] = "create_only"

    result = run_target(tmp_path, config, ada_and_bob())

    assert result.returncode == 0, result.stderr
    assert live(hubspot)["ada@example.com"]["firstname"] == "Ada"
    assert live(hubspot)["bob@example.com"]["firstname"] == "Bob"
    assert "1 created, 0 updated" in result.stderr
    assert "1 skipped" in result.stderr
    assert hubspot.calls("/batch/update") == []


def test_a_deleted_record_archives_its_contact(existing, hubspot, config, tmp_path):
    config["archive_deleted"] = True
    messages = [
        schema(properties=DELETABLE),
        record({"email": "ADA@example.com", "_sdc_deleted_at": DELETED_AT}),
        record({"email": "bob@example.com", "first_name": "Bob", "_sdc_deleted_at": None}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert set(live(hubspot)) == {"bob@example.com"}
    (archive,) = hubspot.calls("/batch/archive")
    assert archive.body == {"inputs": [{"id": existing["id"]}]}
    assert "1 archived" in result.stderr


def test_deleting_a_contact_that_does_not_exist_is_counted_not_an_error(hubspot, config, tmp_path):
    config["archive_deleted"] = True
    messages = [
        schema(properties=DELETABLE),
        record({"email": "ghost@example.com", "_sdc_deleted_at": DELETED_AT}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert "1 deletions found no contact" in result.stderr
    assert hubspot.calls("/batch/archive") == []


def test_an_upsert_then_a_deletion_of_one_contact_ends_archived(hubspot, config, tmp_path):
    config["archive_deleted"] = True
    messages = [
        schema(properties=DELETABLE),
        record({"email": "cy@example.com", "first_name": "Cy"}),
        record({"email": "cy@example.com", "_sdc_deleted_at": DELETED_AT}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert live(hubspot) == {}


def test_a_deletion_then_an_upsert_of_one_contact_ends_present(existing, hubspot, config, tmp_path):
    config["archive_deleted"] = True
    messages = [
        schema(properties=DELETABLE),
        record({"email": "ada@example.com", "_sdc_deleted_at": DELETED_AT}),
        record({"email": "ada@example.com", "first_name": "Ada again"}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert live(hubspot)["ada@example.com"]["firstname"] == "Ada again"
    assert hubspot.contact(email="ada@example.com")["id"] != existing["id"]


def test_without_archive_deleted_a_deleted_record_is_written_like_any_other(
    hubspot, config, tmp_path
):
    messages = [
        schema(properties=DELETABLE),
        record({"email": "dee@example.com", "first_name": "Dee", "_sdc_deleted_at": DELETED_AT}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert live(hubspot)["dee@example.com"]["firstname"] == "Dee"


@pytest.mark.usefixtures("existing")
def test_dry_run_counts_deletions_without_archiving(hubspot, config, tmp_path):
    config.update(dry_run=True, archive_deleted=True)
    messages = [
        schema(properties=DELETABLE),
        record({"email": "ada@example.com", "_sdc_deleted_at": DELETED_AT}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert "1 would be archived" in result.stderr
    assert hubspot.calls("/batch/archive") == []
    assert "ada@example.com" in live(hubspot)
