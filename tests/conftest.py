"""Fixtures: a local HubSpot server per test, settings pointing the target at it, PostgreSQL,
sync stores."""

from __future__ import annotations

import pytest

from tests.helpers import TOKEN, local_hubspot
from tests.postgres import INSTALL_HINT, PostgresServer, server_binaries
from tests.sync_stores import Store


@pytest.fixture
def hubspot():
    """A fresh local HubSpot server on a free loopback port, serving only dated paths.

    A test that calls a retired path (`/crm/v3/...`, `/oauth/v1/...`) fails at teardown.
    """
    with local_hubspot() as emulator:
        yield emulator


@pytest.fixture
def config(hubspot) -> dict:
    """Target settings for the local server."""
    return {
        "access_token": TOKEN,
        "api_url": hubspot.url,
        "max_retry_seconds": 20,
        "request_timeout": 10,
    }


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the whole session; the tests fail (never skip) without one."""
    bindir = server_binaries()
    if bindir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of an empty database of its own."""
    return postgres_server.database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Store:
    """A fresh sync store: a SQLite file, or a database of its own on the test PostgreSQL server."""
    if request.param == "sqlite":
        return Store(str(tmp_path / "store" / "sync.db"))
    return Store(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    """A fresh SQLite sync store, for behaviour that does not depend on the database."""
    return Store(str(tmp_path / "store" / "sync.db"))
