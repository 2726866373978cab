"""Once a sync store is in use, every run keeps it true, whether it skips unchanged rows or not.

A run that writes or archives contacts without `skip_unchanged` still forgets them before its
calls and remembers what HubSpot confirmed, so a later run that skips never skips a row HubSpot
no longer holds. End to end against the local HubSpot server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.helpers import clean_env, contact, lines, record, run_target, schema, state
from tests.sync_stores import contacts_input, email, run_ok, sync, upserted


def deletion_of(number: int) -> str:
    """A deleted row for contact `number`, as a tap reports it."""
    properties = {
        **schema()["schema"]["properties"],
        "_sdc_deleted_at": {"type": ["string", "null"]},
    }
    deleted = contact(number, company="Acme", _sdc_deleted_at="2026-01-01T00:00:00Z")
    return lines([schema(properties=properties), record(deleted), state({"n": number})])


def test_a_run_that_does_not_skip_keeps_the_named_store_true(hubspot, config, store, tmp_path):
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 4)))
    remembered = store.rows()
    not_skipping = {**config, "sync_store": store.location}

    run_ok(tmp_path, not_skipping, contacts_input([1], changes={1: {"company": "Globex"}}))

    assert hubspot.contact(email=email(1))["properties"]["company"] == "Globex"
    rows = store.rows()
    assert rows[email(1)]["fingerprint"] != remembered[email(1)]["fingerprint"]
    assert rows[email(1)]["record_id"] == remembered[email(1)]["record_id"]
    # The source goes back to the values the first run wrote: HubSpot holds others now.
    sent_before = len(upserted(hubspot))
    rerun = run_ok(tmp_path, sync(config, store), contacts_input(range(1, 4)))
    assert upserted(hubspot)[sent_before:] == [email(1)]
    assert hubspot.contact(email=email(1))["properties"]["company"] == "Acme"
    assert "0 created, 1 updated, 2 unchanged" in rerun.stderr


def test_archiving_without_skipping_forgets_the_contact(hubspot, config, sqlite_store, tmp_path):
    run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 4)))
    archiving = {**config, "sync_store": sqlite_store.location, "archive_deleted": True}

    run_ok(tmp_path, archiving, deletion_of(2))

    assert set(sqlite_store.rows()) == {email(1), email(3)}
    sent_before = len(upserted(hubspot))
    run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 4)))
    assert upserted(hubspot)[sent_before:] == [email(2)]
    assert hubspot.contact(email=email(2)) is not None


def test_the_default_store_is_kept_true_by_runs_that_do_not_skip_once_it_exists(
    hubspot, config, tmp_path
):
    project = tmp_path / "project"
    project.mkdir()
    env = clean_env(MELTANO_PROJECT_ROOT=str(project))

    def run(settings: dict, text: str) -> str:
        result = run_target(tmp_path, settings, text, env=env)
        assert result.returncode == 0, result.stderr
        return result.stderr

    run({**config, "skip_unchanged": True}, contacts_input(range(1, 3)))
    run(config, contacts_input([1], changes={1: {"company": "Globex"}}))
    sent_before = len(upserted(hubspot))

    rerun = run({**config, "skip_unchanged": True}, contacts_input(range(1, 3)))

    assert upserted(hubspot)[sent_before:] == [email(1)]
    assert hubspot.contact(email=email(1))["properties"]["company"] == "Acme"
    assert "1 updated, 1 unchanged" in rerun


@pytest.mark.usefixtures("hubspot")
def test_a_run_that_does_not_skip_creates_no_default_store(config, tmp_path):
    project = tmp_path / "project"
    project.mkdir()

    result = run_target(
        tmp_path,
        config,
        contacts_input(range(1, 3)),
        env=clean_env(MELTANO_PROJECT_ROOT=str(project)),
    )

    assert result.returncode == 0, result.stderr
    assert list(project.iterdir()) == []
    assert "Sync store" not in result.stderr


def test_a_dry_run_that_does_not_skip_leaves_the_store_alone(
    hubspot, config, sqlite_store, tmp_path
):
    run_ok(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 3)))
    remembered = sqlite_store.rows()
    dry = {**config, "sync_store": sqlite_store.location, "dry_run": True}

    run_ok(tmp_path, dry, contacts_input([1], changes={1: {"company": "Globex"}}))

    assert sqlite_store.rows() == remembered
    assert hubspot.contact(email=email(1))["properties"]["company"] == "Acme"
