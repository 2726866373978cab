"""The sync store as the tests see it (a look inside), and input and checks for its runs."""

from __future__ import annotations

import contextlib
import datetime
import json
import pathlib
import subprocess
import typing as t

import sqlalchemy as sa

from target_hubspot_contacts.emulator import HubSpotEmulator
from target_hubspot_contacts.emulator.account import DEFAULT_PORTAL_ID
from target_hubspot_contacts.syncstore import store_url, written_contacts
from tests.helpers import contact, lines, record, run_target, schema, state


class Store:
    """The sync store a test runs the target with, and a look inside it."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._url = store_url(location, pathlib.Path("/"))

    def rows(self, portal_id: int = DEFAULT_PORTAL_ID) -> dict[str, dict[str, t.Any]]:
        """The remembered contacts of a portal, by contact key."""
        query = sa.select(written_contacts).where(written_contacts.c.portal_id == str(portal_id))
        with self.connection() as connection:
            return {row.contact_key: row._asdict() for row in connection.execute(query)}

    def age(self, keys: t.Iterable[str], days: float) -> None:
        """Make these contacts look written `days` earlier than they were."""
        rows = self.rows()
        with self.connection() as connection:
            for key in keys:
                earlier = rows[key]["written_at"] - datetime.timedelta(days=days)
                connection.execute(
                    written_contacts.update()
                    .where(written_contacts.c.contact_key == key)
                    .values(written_at=earlier)
                )
            connection.commit()

    def create(self, table: sa.Table) -> None:
        """Create a table in the store (and a SQLite store's directory) before any run does."""
        if self._url.get_backend_name() == "sqlite":
            pathlib.Path(self._url.database).parent.mkdir(parents=True, exist_ok=True)
        with self.connection() as connection:
            table.create(connection)
            connection.commit()

    @contextlib.contextmanager
    def connection(self) -> t.Iterator[sa.Connection]:
        """A connection of the test's own, beside the target's (commit as you go)."""
        engine = sa.create_engine(self._url)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()


def email(number: int) -> str:
    return contact(number)["email"]


def contacts_input(
    numbers: t.Iterable[int], state_every: int = 2, changes: dict[int, dict] | None = None
) -> str:
    """SCHEMA, a RECORD per contact number (with its `changes`), a STATE every few."""
    messages = [schema()]
    numbers = list(numbers)
    for position, number in enumerate(numbers, start=1):
        fields = {"company": "Acme", **(changes or {}).get(number, {})}
        messages.append(record(contact(number, **fields)))
        if position % state_every == 0 or position == len(numbers):
            messages.append(state({"n": number}))
    return lines(messages)


def without_schema(text: str) -> str:
    """The same messages minus the leading SCHEMA, to go on feeding a running target."""
    return text.split("\n", 1)[1]


def upserted(hubspot: HubSpotEmulator) -> list[str]:
    """The ids sent in every upsert call so far, in order."""
    return [item["id"] for call in hubspot.calls("/batch/upsert") for item in call.body["inputs"]]


def batch_calls(hubspot: HubSpotEmulator) -> int:
    """How many calls to any batch endpoint (upsert, read, create, update, archive) so far."""
    return len(hubspot.calls("/batch/upsert")) + sum(
        len(hubspot.calls(f"/batch/{action}")) for action in ("read", "create", "update", "archive")
    )


def metrics(stderr: str) -> dict[str, int]:
    """The counter metrics of a run, by name."""
    points = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]
    return {p["metric"]: p["value"] for p in points if p["type"] == "counter"}


def sync(config: dict, store: Store, **settings: t.Any) -> dict:
    """Settings for a run that skips unchanged rows with this store."""
    return {**config, "skip_unchanged": True, "sync_store": store.location, **settings}


def run_ok(tmp_path, config: dict, text: str) -> subprocess.CompletedProcess[str]:
    result = run_target(tmp_path, config, text)
    assert result.returncode == 0, result.stderr
    return result
