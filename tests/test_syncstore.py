"""The sync store's pure parts: fingerprints, where the store lives, and its files' permissions."""

from __future__ import annotations

import datetime
import pathlib

import pytest

from target_hubspot_contacts.errors import ConfigurationError
from target_hubspot_contacts.syncstore import (
    Confirmed,
    SyncStore,
    fingerprint,
    key_digest,
    settings_digest,
    shown_url,
    store_url,
)

SETTINGS = settings_digest({"id_property": "email", "null_values": "skip"})


def test_a_fingerprint_ignores_the_order_of_properties():
    first = fingerprint({"email": "a@example.com", "firstname": "Ada"}, SETTINGS)
    second = fingerprint({"firstname": "Ada", "email": "a@example.com"}, SETTINGS)

    assert first == second


@pytest.mark.parametrize(
    "other",
    [
        {"email": "a@example.com", "firstname": "Ada "},
        {"email": "a@example.com", "firstname": "Ada", "company": ""},
        {"email": "a@example.com"},
        {"email": "a@example.com", "lastname": "Ada"},
    ],
    ids=["value", "property-cleared", "property-absent", "same-value-other-property"],
)
def test_a_fingerprint_changes_with_any_property_sent(other):
    assert fingerprint({"email": "a@example.com", "firstname": "Ada"}, SETTINGS) != fingerprint(
        other, SETTINGS
    )


@pytest.mark.parametrize(
    "setting",
    [
        {"property_mapping": {"first_name": "firstname"}},
        {"null_values": "clear"},
        {"id_property": "external_id"},
        {"stream_maps": {"contacts": {"phone": None}}},
        {"flattening_enabled": True},
    ],
)
def test_a_fingerprint_changes_with_the_settings_that_shape_properties(setting):
    properties = {"email": "a@example.com", "firstname": "Ada"}
    changed = settings_digest({"id_property": "email", "null_values": "skip", **setting})

    assert fingerprint(properties, SETTINGS) != fingerprint(properties, changed)


def test_settings_that_do_not_shape_properties_leave_the_fingerprint_alone():
    config = {"id_property": "email", "null_values": "skip"}
    unrelated = {**config, "max_concurrency": 2, "write_mode": "update_only", "dry_run": True}

    assert settings_digest(config) == settings_digest(unrelated)


def test_the_default_store_is_a_sqlite_file_under_the_root():
    url = store_url(None, pathlib.Path("/project"))

    assert url.get_backend_name() == "sqlite"
    assert url.database == "/project/.target-hubspot-contacts/sync.db"


def test_a_relative_path_is_a_sqlite_file_under_the_root_and_an_absolute_one_stays():
    assert store_url("state/memory.db", pathlib.Path("/p")).database == "/p/state/memory.db"
    assert store_url("/var/lib/sync.db", pathlib.Path("/p")).database == "/var/lib/sync.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgres_url_without_a_driver_uses_psycopg(scheme):
    url = store_url(f"{scheme}://user:pw@db.internal:5432/sync", pathlib.Path("/p"))

    assert url.drivername == "postgresql+psycopg"
    assert url.host == "db.internal"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("mysql://user@host/db", "SQLite file or a PostgreSQL URL"),
        ("not a url://", "neither a file path nor a database URL"),
    ],
)
def test_other_stores_are_refused_with_a_clear_message(location, message):
    with pytest.raises(ConfigurationError, match=message):
        store_url(location, pathlib.Path("/p"))


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://sync:pw@db:5432/memory", "postgresql+psycopg://sync:***@db:5432/memory"),
        (
            "postgresql://sync@db/memory?password=pw&sslmode=require",
            "postgresql+psycopg://sync@db/memory?password=***&sslmode=***",
        ),
    ],
)
def test_a_store_url_is_shown_without_its_password_or_any_query_value(location, shown):
    assert shown_url(store_url(location, pathlib.Path("/p"))) == shown


def test_every_contact_key_has_a_digest_of_one_size():
    digests = {key_digest(key) for key in ("a@example.com", "x" * 3_000, "\ud800", "")}

    assert len(digests) == 4
    assert {len(digest) for digest in digests} == {32}


def test_a_sqlite_store_syncs_every_commit_to_disk_before_it_returns(tmp_path):
    store = SyncStore(
        store_url(str(tmp_path / "sync.db"), tmp_path),
        portal_id="1",
        id_property="email",
        read_only=False,
    )
    try:
        # A forget must survive an OS crash: the call it precedes may change the contact.
        with store._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        store.close()


def test_a_sqlite_store_in_memory_is_refused():
    with pytest.raises(ConfigurationError, match="forgets every run"):
        SyncStore(
            store_url("sqlite://", pathlib.Path("/p")),
            portal_id="1",
            id_property="email",
            read_only=False,
        )


def test_every_file_of_a_sqlite_store_is_private_to_its_owner(tmp_path):
    path = tmp_path / "new" / "deeper" / "sync.db"
    store = SyncStore(
        store_url(str(path), tmp_path), portal_id="1", id_property="email", read_only=False
    )
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        store.remember([Confirmed("a@example.com", "0" * 32, "101")], now)
        files = sorted(path.parent.iterdir())
        # While it is open, SQLite keeps its write-ahead log and shared memory beside it.
        assert {file.name for file in files} >= {"sync.db", "sync.db-wal", "sync.db-shm"}
        for file in files:
            assert file.stat().st_mode & 0o777 == 0o600, file
    finally:
        store.close()
    for directory in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
