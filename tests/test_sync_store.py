"""Recurring syncs: unchanged rows are skipped, and only what HubSpot confirmed is remembered.

End to end against the local HubSpot server, with the SQLite store and with a real PostgreSQL
server (the `store` fixture runs each such test on both).
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess

import pytest

from target_hubspot_contacts.emulator.account import DEFAULT_PORTAL_ID
from tests.helpers import (
    clean_env,
    contact,
    lines,
    local_hubspot,
    printed_states,
    record,
    run_target,
    schema,
    start_target,
    state,
    wait_for,
)
from tests.sync_stores import (
    batch_calls,
    contacts_input,
    email,
    metrics,
    run_ok,
    sync,
    upserted,
    without_schema,
)

# --- on both stores --------------------------------------------------------------------------


def test_the_first_run_remembers_each_contact_with_its_hubspot_record_id(
    hubspot, config, store, tmp_path
):
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 6)))

    rows = store.rows()
    assert set(rows) == {email(n) for n in range(1, 6)}
    for key, row in rows.items():
        assert row["record_id"] == hubspot.contact(email=key)["id"]
        assert row["id_property"] == "email"
        assert len(row["fingerprint"]) == 32


def test_an_unchanged_rerun_makes_no_write_call_and_moves_state_to_the_end(
    hubspot, config, store, tmp_path
):
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 6)))
    calls_before = batch_calls(hubspot)

    rerun = run_ok(tmp_path, sync(config, store), contacts_input(range(1, 6)))

    assert batch_calls(hubspot) == calls_before
    assert printed_states(rerun.stdout)[-1] == {"n": 5}
    assert "0 created, 0 updated, 5 unchanged" in rerun.stderr
    assert metrics(rerun.stderr)["contacts_unchanged"] == 5


def test_only_changed_and_new_rows_are_sent(hubspot, config, store, tmp_path):
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 7)))
    sent_before = len(upserted(hubspot))
    changed = {2: {"company": "Globex"}, 4: {"last_name": "Lovelace"}}

    rerun = run_ok(tmp_path, sync(config, store), contacts_input(range(1, 9), changes=changed))

    assert sorted(upserted(hubspot)[sent_before:]) == sorted([email(n) for n in (2, 4, 7, 8)])
    assert hubspot.contact(email=email(2))["properties"]["company"] == "Globex"
    assert "2 created, 2 updated, 4 unchanged" in rerun.stderr
    assert set(store.rows()) == {email(n) for n in range(1, 9)}


def test_full_resync_sends_every_row_once_and_refreshes_the_store(hubspot, config, store, tmp_path):
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 5)))
    first_written = {key: row["written_at"] for key, row in store.rows().items()}
    sent_before = len(upserted(hubspot))

    run_ok(tmp_path, sync(config, store, full_resync=True), contacts_input(range(1, 5)))

    assert sorted(upserted(hubspot)[sent_before:]) == sorted(email(n) for n in range(1, 5))
    assert all(row["written_at"] > first_written[key] for key, row in store.rows().items())
    calls_before = batch_calls(hubspot)
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 5)))
    assert batch_calls(hubspot) == calls_before


def test_a_failed_run_remembers_only_what_hubspot_confirmed_and_the_next_run_sends_the_rest(
    hubspot, config, store, tmp_path
):
    settings = sync(config, store, batch_size_rows=5)
    process = start_target(tmp_path, settings, stderr=subprocess.DEVNULL)
    process.stdin.write(contacts_input(range(1, 6), state_every=5))
    process.stdin.flush()
    assert json.loads(process.stdout.readline()) == {"n": 5}  # contacts 1-5 are confirmed
    hubspot.inject("/batch/upsert", status=404)  # the next call fails and stops the run
    process.stdin.write(without_schema(contacts_input(range(6, 16), state_every=5)))
    process.stdin.close()
    assert process.wait(timeout=60) == 1

    failed = [call for call in hubspot.calls("/batch/upsert") if call.status == 404]
    confirmed = {
        item["id"]
        for call in hubspot.calls("/batch/upsert")
        if call.status == 200
        for item in call.body["inputs"]
    }
    remembered = set(store.rows())
    assert {email(n) for n in range(1, 6)} <= remembered <= confirmed
    assert not remembered & {item["id"] for item in failed[0].body["inputs"]}

    sent_before = len(upserted(hubspot))
    run_ok(tmp_path, settings, contacts_input(range(1, 16)))

    all_contacts = {email(n) for n in range(1, 16)}
    assert sorted(upserted(hubspot)[sent_before:]) == sorted(all_contacts - remembered)
    assert set(store.rows()) == all_contacts
    assert {c["properties"]["email"] for c in hubspot.contacts} == all_contacts


def test_a_row_hubspot_rejects_is_not_remembered_and_is_sent_once_fixed(
    hubspot, config, store, tmp_path
):
    keyed = {
        "external_id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
    }

    def keyed_input(third_email: str) -> str:
        rows = [
            {"external_id": "c1", "email": "ada@example.com", "first_name": "Ada"},
            {"external_id": "c2", "email": "alan@example.com", "first_name": "Alan"},
            {"external_id": "c3", "email": third_email, "first_name": "Grace"},
        ]
        messages = [schema(properties=keyed, keys=("external_id",))]
        return lines([*messages, *(record(row) for row in rows), state({"n": 3})])

    settings = sync(
        config,
        store,
        id_property="external_id",
        rejects_path=str(tmp_path / "rejects.jsonl"),
        max_rejects=1,
    )
    # Passes the target's email check, but HubSpot refuses an empty domain label.
    first = run_ok(tmp_path, settings, keyed_input("grace@example..com"))
    assert "1 rejected" in first.stderr
    assert set(store.rows()) == {"c1", "c2"}
    sent_before = len(upserted(hubspot))

    run_ok(tmp_path, settings, keyed_input("grace@example.com"))

    assert upserted(hubspot)[sent_before:] == ["c3"]
    assert set(store.rows()) == {"c1", "c2", "c3"}


def test_kill_9_mid_call_remembers_nothing_of_that_call_even_if_its_rows_go_back(
    hubspot, config, store, tmp_path
):
    settings = sync(config, store, batch_size_rows=5)
    run_ok(tmp_path, settings, contacts_input(range(1, 11)))  # remembered with company Acme
    globex = {n: {"company": "Globex"} for n in range(1, 11)}

    process = start_target(tmp_path, settings, stderr=subprocess.DEVNULL)
    process.stdin.write(contacts_input(range(1, 6), state_every=5, changes=globex))
    process.stdin.flush()
    assert json.loads(process.stdout.readline()) == {"n": 5}  # 1-5 now written as Globex
    hubspot.inject("/batch/upsert", delay=30, drop_connection=True)  # never answered
    process.stdin.write(without_schema(contacts_input(range(6, 11), state_every=5, changes=globex)))
    process.stdin.flush()
    wait_for(
        lambda: any(call.answered_at is None for call in hubspot.calls("/batch/upsert")),
        "the call for contacts 6-10 to reach HubSpot",
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    assert set(store.rows()) == {email(n) for n in range(1, 6)}
    # 1-5 as confirmed before the kill; 6-10 back to what was last confirmed for them (Acme),
    # which HubSpot may or may not hold now: they must be sent.
    sent_before = len(upserted(hubspot))
    mixed = {n: {"company": "Globex"} for n in range(1, 6)}
    run_ok(tmp_path, settings, contacts_input(range(1, 11), changes=mixed))
    assert sorted(upserted(hubspot)[sent_before:]) == sorted(email(n) for n in range(6, 11))


def test_a_second_run_on_the_same_store_and_portal_stops_with_a_clear_message(
    hubspot, config, store, tmp_path
):
    settings = sync(config, store)
    (tmp_path / "first").mkdir()
    first = start_target(tmp_path / "first", settings)
    first.stdin.write(contacts_input(range(1, 3)))
    first.stdin.flush()
    assert json.loads(first.stdout.readline()) == {"n": 2}  # the first run holds the store

    second = run_target(tmp_path, settings, contacts_input(range(3, 5)))

    assert second.returncode == 1
    last_line = second.stderr.strip().splitlines()[-1]
    assert "Another run is writing to the sync store" in last_line
    assert f"HubSpot portal {DEFAULT_PORTAL_ID}" in last_line
    assert second.stdout == ""
    assert hubspot.contact(email=email(3)) is None
    first.stdin.close()
    assert first.wait(timeout=60) == 0
    run_ok(tmp_path, settings, contacts_input(range(3, 5)))  # free again once it ended


# --- behaviour that does not depend on the database --------------------------------------------


def test_an_unchanged_row_is_listed_in_the_outcomes_file_with_its_record_id(
    hubspot, config, sqlite_store, tmp_path
):
    outcomes = tmp_path / "outcomes.jsonl"
    settings = sync(config, sqlite_store, outcomes_path=str(outcomes))
    run_ok(tmp_path, settings, contacts_input(range(1, 3)))
    first_run_lines = len(outcomes.read_text().splitlines())

    run_ok(tmp_path, settings, contacts_input(range(1, 3)))

    rerun = [json.loads(line) for line in outcomes.read_text().splitlines()[first_run_lines:]]
    assert sorted((line["id"], line["outcome"], line["record_id"]) for line in rerun) == [
        (email(n), "unchanged", hubspot.contact(email=email(n))["id"]) for n in (1, 2)
    ]


def test_a_dry_run_reports_unchanged_rows_and_never_writes_the_store(
    hubspot, config, sqlite_store, tmp_path
):
    store = sqlite_store
    dry = sync(config, store, dry_run=True)
    first_dry = run_ok(tmp_path, dry, contacts_input(range(1, 4)))
    assert "3 would be created" in first_dry.stderr
    assert not pathlib.Path(store.location).exists()

    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 4)))
    remembered = store.rows()
    dry_rerun = run_ok(
        tmp_path, dry, contacts_input(range(1, 5), changes={2: {"company": "Hooli"}})
    )

    assert "1 would be created, 1 would be updated, 2 unchanged" in dry_rerun.stderr
    assert store.rows() == remembered
    assert hubspot.contact(email=email(2))["properties"]["company"] == "Acme"


def test_archiving_a_contact_forgets_it(hubspot, config, sqlite_store, tmp_path):
    settings = sync(config, sqlite_store, archive_deleted=True)
    run_ok(tmp_path, settings, contacts_input(range(1, 4)))
    properties = {
        **schema()["schema"]["properties"],
        "_sdc_deleted_at": {"type": ["string", "null"]},
    }
    deletion = lines(
        [
            schema(properties=properties),
            record(contact(2, company="Acme", _sdc_deleted_at="2026-01-01T00:00:00Z")),
            state({"n": 2}),
        ]
    )

    run_ok(tmp_path, settings, deletion)

    assert set(sqlite_store.rows()) == {email(1), email(3)}
    sent_before = len(upserted(hubspot))
    run_ok(tmp_path, settings, contacts_input(range(1, 4)))
    assert upserted(hubspot)[sent_before:] == [email(2)]


def test_records_merged_into_one_contact_are_remembered_and_skipped_as_one(
    hubspot, config, sqlite_store, tmp_path
):
    settings = sync(config, sqlite_store)
    text = lines(
        [
            schema(),
            record({"email": email(1), "first_name": "Ada"}),
            record({"email": email(1).upper(), "company": "Acme"}),
            record({"email": email(2), "first_name": "Alan"}),
            state({"n": 3}),
        ]
    )
    run_ok(tmp_path, settings, text)
    calls_before = batch_calls(hubspot)

    rerun = run_ok(tmp_path, settings, text)

    assert batch_calls(hubspot) == calls_before
    assert "2 unchanged" in rerun.stderr
    assert printed_states(rerun.stdout) == [{"n": 3}]


def test_unchanged_rows_skip_the_lookup_of_update_only_too(hubspot, config, sqlite_store, tmp_path):
    run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 4)))
    calls_before = batch_calls(hubspot)

    rerun = run_ok(
        tmp_path,
        sync(config, sqlite_store, write_mode="update_only"),
        contacts_input(range(1, 4), changes={3: {"company": "Initech"}}),
    )

    assert batch_calls(hubspot) == calls_before + 2  # one read and one update, for contact 3
    assert "0 created, 1 updated, 2 unchanged" in rerun.stderr


def test_a_change_of_mapping_settings_sends_every_row_again(
    hubspot, config, sqlite_store, tmp_path
):
    run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 4)))
    sent_before = len(upserted(hubspot))
    # Maps exactly as name matching did, so only the setting itself changed.
    mapping = {"first_name": "firstname"}

    run_ok(
        tmp_path, sync(config, sqlite_store, property_mapping=mapping), contacts_input(range(1, 4))
    )

    assert sorted(upserted(hubspot)[sent_before:]) == sorted(email(n) for n in range(1, 4))


def test_resend_after_days_sends_rows_unchanged_for_longer(hubspot, config, sqlite_store, tmp_path):
    settings = sync(config, sqlite_store, resend_after_days=2)
    run_ok(tmp_path, settings, contacts_input(range(1, 5)))
    sqlite_store.age([email(1), email(3)], days=3)
    sqlite_store.age([email(2)], days=1)
    sent_before = len(upserted(hubspot))

    run_ok(tmp_path, settings, contacts_input(range(1, 5)))

    assert sorted(upserted(hubspot)[sent_before:]) == [email(1), email(3)]


def test_one_store_keeps_each_portal_apart(config, sqlite_store, tmp_path):
    with local_hubspot(portal_id=99) as other:
        run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 3)))
        other_settings = sync({**config, "api_url": other.url}, sqlite_store)

        run_ok(tmp_path, other_settings, contacts_input(range(1, 3)))

        assert sorted(upserted(other)) == [email(1), email(2)]
        assert set(sqlite_store.rows(portal_id=99)) == {email(1), email(2)}
        assert set(sqlite_store.rows()) == {email(1), email(2)}


@pytest.mark.usefixtures("hubspot")
def test_the_default_store_is_a_private_file_under_the_meltano_project(config, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    settings = {**config, "skip_unchanged": True}
    result = run_target(
        tmp_path,
        settings,
        contacts_input(range(1, 3)),
        env=clean_env(MELTANO_PROJECT_ROOT=str(project)),
    )

    assert result.returncode == 0, result.stderr
    directory = project / ".target-hubspot-contacts"
    assert (directory / "sync.db").exists()
    assert directory.stat().st_mode & 0o777 == 0o700
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_store_that_cannot_be_reached_stops_the_run_naming_it_without_its_password(
    hubspot, config, tmp_path
):
    settings = {
        **config,
        "skip_unchanged": True,
        "sync_store": "postgresql://sync:hunter2-secret@127.0.0.1:1/memory",
    }

    result = run_target(tmp_path, settings, contacts_input(range(1, 3)))

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert "The sync store postgresql+psycopg://sync:***@127.0.0.1:1/memory (`sync_store`)" in (
        last_line
    )
    assert "hunter2-secret" not in result.stderr
    assert hubspot.contacts == []
