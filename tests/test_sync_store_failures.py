"""A sync store that cannot do its job fails the run in bounded time, naming the store (and the
`sync_store` setting) without any secret; an id of any length fits it.

End to end against the local HubSpot server, with SQLite and a real PostgreSQL server.
"""

from __future__ import annotations

import random
import socket
import string
import subprocess
import threading
import typing as t

import pytest
import sqlalchemy as sa

from target_hubspot_contacts.syncstore import key_digest
from tests.helpers import (
    clean_env,
    lines,
    printed_states,
    record,
    run_target,
    schema,
    start_target,
    state,
    wait_for,
)
from tests.sync_stores import (
    Store,
    batch_calls,
    contacts_input,
    email,
    run_ok,
    sync,
    upserted,
    without_schema,
)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def assert_stopped_before_any_call(result, hubspot) -> None:
    assert result.returncode == 1, result.stderr
    assert hubspot.requests == []


# --- a store that stops answering ------------------------------------------------------------


@pytest.fixture
def silent_port() -> t.Iterator[int]:
    """A loopback port that accepts connections and never answers: a hung database server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for connection in [*held, listener]:
        connection.close()


def test_a_postgres_store_that_never_answers_fails_the_run_within_the_request_timeout(
    hubspot, config, silent_port, tmp_path
):
    location = f"postgresql://sync:pw@127.0.0.1:{silent_port}/memory"
    settings = {**config, "skip_unchanged": True, "sync_store": location, "request_timeout": 2}

    result = run_target(tmp_path, settings, contacts_input(range(1, 3)), timeout=90)

    assert result.returncode == 1, result.stderr
    assert (
        f"The sync store postgresql+psycopg://sync:***@127.0.0.1:{silent_port}/memory "
        "(`sync_store`) failed" in last_line(result)
    )
    assert hubspot.contacts == []


@pytest.mark.postgres
def test_a_store_another_session_keeps_locked_fails_the_run_naming_the_store(
    hubspot, config, postgres_url, tmp_path
):
    store = Store(postgres_url)
    run_ok(tmp_path, sync(config, store), contacts_input(range(1, 3)))
    sent_before = len(upserted(hubspot))
    changed = {1: {"company": "Globex"}}

    with store.connection() as other:
        other.execute(sa.text("LOCK TABLE hubspot_written_contacts IN ACCESS EXCLUSIVE MODE"))
        result = run_target(
            tmp_path,
            sync(config, store, request_timeout=2),
            contacts_input(range(1, 3), changes=changed),
            timeout=90,
        )
        other.rollback()

    assert result.returncode == 1, result.stderr
    assert "(`sync_store`) failed while looking contacts up" in last_line(result)
    assert "canceling statement due to" in last_line(result)  # its lock or statement timeout
    assert upserted(hubspot)[sent_before:] == []


def waiting_on_a_lock(store: Store) -> int:
    """Sessions of the store's database waiting for a lock another holds."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with store.connection() as connection:
        return int(connection.execute(query).scalar())


@pytest.mark.postgres
def test_a_store_write_that_waits_holds_up_neither_other_calls_nor_the_end_of_a_failed_run(
    hubspot, config, postgres_url, tmp_path
):
    store = Store(postgres_url)
    run_ok(tmp_path, sync(config, store), contacts_input([9]))  # creates the table
    # The store would wait far longer than the test: only the run's own ending can end it.
    settings = sync(config, store, batch_size_rows=1, request_timeout=600)
    with store.connection() as other:
        # An uncommitted row for contact 1 (a copy of 9's): remembering 1 must wait for it.
        other.execute(
            sa.text(
                "INSERT INTO hubspot_written_contacts SELECT portal_id, id_property, :digest, "
                ":key, fingerprint, record_id, written_at FROM hubspot_written_contacts"
            ),
            {"digest": key_digest(email(1)), "key": email(1)},
        )
        process = start_target(tmp_path, settings)
        try:
            process.stdin.write(contacts_input([1]))
            process.stdin.flush()
            wait_for(lambda: waiting_on_a_lock(store) > 0, "the run to wait to remember 1")
            hubspot.inject("/batch/upsert", status=404)  # the next call fails the run
            process.stdin.write(without_schema(contacts_input([2])))
            process.stdin.close()

            assert process.wait(timeout=60) == 1
        finally:
            process.kill()
            other.rollback()

    assert "404" in process.stderr.read().strip().splitlines()[-1]
    assert process.stdout.read() == ""  # contact 1 was never remembered: no STATE passed it


# --- an id of any length ---------------------------------------------------------------------


def test_an_id_too_long_for_a_database_index_is_remembered_and_then_skipped(
    hubspot, config, store, tmp_path
):
    letters = random.Random(13).choices(string.ascii_letters + string.digits, k=3_000)
    long_id = "".join(letters)
    keyed = {"external_id": {"type": "string"}, "first_name": {"type": ["string", "null"]}}
    rows = [("ok-1", "Ada"), (long_id, "Alan"), ("ok-2", "Grace")]
    messages = [schema(properties=keyed, keys=("external_id",))]
    for number, (key, name) in enumerate(rows, start=1):
        messages += [record({"external_id": key, "first_name": name}), state({"n": number})]
    settings = sync(config, store, id_property="external_id")

    first = run_ok(tmp_path, settings, lines(messages))

    assert printed_states(first.stdout)[-1] == {"n": 3}
    assert set(store.rows()) == {"ok-1", long_id, "ok-2"}
    calls_before = batch_calls(hubspot)
    rerun = run_ok(tmp_path, settings, lines(messages))
    assert batch_calls(hubspot) == calls_before
    assert "3 unchanged" in rerun.stderr


def test_a_store_laid_out_by_another_version_is_refused_before_sending(
    hubspot, config, store, tmp_path
):
    earlier = sa.Table(  # the layout the store had when it first shipped
        "hubspot_written_contacts",
        sa.MetaData(),
        sa.Column("portal_id", sa.String(32), primary_key=True),
        sa.Column("id_property", sa.String(100), primary_key=True),
        sa.Column("contact_key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(32)),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    store.create(earlier)

    result = run_target(tmp_path, sync(config, store), contacts_input(range(1, 3)))

    assert result.returncode == 1, result.stderr
    line = last_line(result)
    assert "holds a table `hubspot_written_contacts` laid out by another version" in line
    assert "DROP TABLE hubspot_written_contacts;" in line
    assert hubspot.contacts == []


# --- SQLite files ------------------------------------------------------------------------------


def test_a_sync_store_that_is_a_directory_stops_the_run_at_the_start(hubspot, config, tmp_path):
    settings = {**config, "skip_unchanged": True, "sync_store": str(tmp_path)}

    result = run_target(tmp_path, settings, contacts_input(range(1, 3)))

    assert_stopped_before_any_call(result, hubspot)
    assert f"`sync_store` {str(tmp_path)!r} cannot be written: it is a directory" in (result.stderr)


def test_a_relative_sync_store_is_checked_under_the_meltano_project(hubspot, config, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "state").write_text("a file, not a directory")
    settings = {**config, "sync_store": "state/sync.db"}

    result = run_target(
        tmp_path,
        settings,
        contacts_input(range(1, 3)),
        env=clean_env(MELTANO_PROJECT_ROOT=str(project)),
    )

    assert_stopped_before_any_call(result, hubspot)
    assert f"{str(project / 'state')!r} is a file, not a directory" in result.stderr


def test_a_store_file_that_cannot_be_opened_stops_the_run_naming_sync_store(
    hubspot, config, sqlite_store, tmp_path
):
    (tmp_path / "store" / "sync.db.lock").mkdir(parents=True)  # where the run's lock goes

    result = run_target(tmp_path, sync(config, sqlite_store), contacts_input(range(1, 3)))

    assert result.returncode == 1, result.stderr
    line = last_line(result)
    assert "(`sync_store`) cannot be opened: [Errno 21] Is a directory" in line
    assert "unexpected" not in result.stderr.lower()
    assert hubspot.contacts == []


NO_POSIX_LOCKS = """\
import errno, fcntl, os


def _refuse(*args, **kwargs):
    raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))


fcntl.lockf = _refuse  # as on a filesystem that has no POSIX locks
"""


def test_a_filesystem_without_posix_locks_fails_the_run_naming_the_problem(
    hubspot, config, sqlite_store, tmp_path
):
    startup = tmp_path / "no-locks"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text(NO_POSIX_LOCKS)

    result = run_target(
        tmp_path,
        sync(config, sqlite_store),
        contacts_input(range(1, 3)),
        env=clean_env(PYTHONPATH=str(startup)),
    )

    assert result.returncode == 1, result.stderr
    line = last_line(result)
    assert "(`sync_store`) cannot be locked for this run" in line
    assert "No locks available" in line
    assert "Another run" not in result.stderr
    assert hubspot.contacts == []


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.usefixtures("hubspot")
def test_a_password_in_the_store_urls_query_is_never_logged(config, postgres_url, tmp_path):
    settings = sync(config, Store(f"{postgres_url}?password=s3cr3t-db-pass&application_name=t"))

    result = run_ok(tmp_path, settings, contacts_input(range(1, 3)))

    assert "s3cr3t-db-pass" not in result.stderr
    assert "?password=***&application_name=***" in result.stderr


def test_a_password_in_the_query_of_a_store_that_fails_is_not_in_its_error(
    hubspot, config, tmp_path
):
    location = "postgresql://sync@127.0.0.1:1/memory?password=hunter2-secret"
    settings = {**config, "skip_unchanged": True, "sync_store": location}

    result = run_target(tmp_path, settings, contacts_input(range(1, 3)))

    assert result.returncode == 1
    assert "postgresql+psycopg://sync@127.0.0.1:1/memory?password=*** (`sync_store`) failed" in (
        last_line(result)
    )
    assert "hunter2-secret" not in result.stderr
    assert hubspot.contacts == []
