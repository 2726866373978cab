"""The memory of past runs: what each contact was last written with, so unchanged rows are skipped.

For every contact HubSpot confirmed, the store keeps a fingerprint of the properties sent (and
of the settings that shaped them), HubSpot's record id and when. It lives in SQLite (a private
file under the project, by default) or PostgreSQL, keyed by portal, id property and contact, and
is touched per call: one lookup before it, one write once HubSpot answered. A contact's memory is
dropped before any call that may change it, so a failed call or a killed run is never
remembered as written. Once a store is in use, every run keeps it true, skipping or not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import hashlib
import json
import math
import os
import pathlib
import threading
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from target_hubspot_contacts.errors import ConfigurationError, TargetError
from target_hubspot_contacts.files import create_private

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterable, Iterator, Mapping

    from target_hubspot_contacts.client import HubSpotClient

# Where the store lives when `sync_store` is not set, under the project (or working) directory.
DEFAULT_STORE = pathlib.Path(".target-hubspot-contacts") / "sync.db"
# Bump when the same row would send different properties (a coercion change), to resend all.
FINGERPRINT_VERSION = 1
# Settings that shape what a row sends: changing any of them sends every row again.
SHAPING_SETTINGS = (
    "id_property",
    "property_mapping",
    "null_values",
    "stream_maps",
    "stream_map_config",
    "flattening_enabled",
    "flattening_max_depth",
)
POSTGRES_EXTRA_HINT = "pip install 'target-hubspot-contacts[postgres]'"
_ADVISORY_LOCK_NAMESPACE = "target-hubspot-contacts sync store"

_metadata = sa.MetaData()
# Its columns are its layout version: a table with other columns is refused, never guessed at.
written_contacts = sa.Table(
    "hubspot_written_contacts",
    _metadata,
    sa.Column("portal_id", sa.String(32), primary_key=True),
    sa.Column("id_property", sa.String(100), primary_key=True),
    # A digest of contact_key: an id of any length fits PostgreSQL's index (2,704 bytes a row).
    sa.Column("key_digest", sa.String(32), primary_key=True),
    sa.Column("contact_key", sa.Text, nullable=False),  # the id value, as HubSpot matches it
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(32)),  # HubSpot's id of the contact
    sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
)


class SyncStoreError(TargetError):
    """The sync store cannot be opened, locked, read or written."""


# --- fingerprints (pure) ---------------------------------------------------------------------


def settings_digest(config: Mapping[str, t.Any]) -> bytes:
    """What the settings that shape a row's properties add to its fingerprint."""
    shaping = {name: config.get(name) for name in SHAPING_SETTINGS}
    text = json.dumps([FINGERPRINT_VERSION, shaping], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def key_digest(contact_key: str) -> str:
    """The fixed-size key of a contact's row, whatever the length of its id."""
    data = contact_key.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def fingerprint(properties: Mapping[str, str], settings: bytes) -> str:
    """A short digest of the properties sent for a contact, under these settings."""
    text = json.dumps(properties, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16, key=settings).hexdigest()


@dataclasses.dataclass(frozen=True)
class Memory:
    """What the store holds for one contact."""

    fingerprint: str
    record_id: str | None
    written_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Confirmed:
    """A write HubSpot confirmed, to remember."""

    contact_key: str
    fingerprint: str
    record_id: str | None


# --- the store ---------------------------------------------------------------------------------


def store_url(location: str | None, root: pathlib.Path) -> sa.URL:
    """The SQLAlchemy URL of `sync_store`: a URL, or a SQLite file path (relative to root)."""
    if location and "://" in location:
        try:
            url = sa.make_url(location)
        except sa.exc.ArgumentError:
            msg = "`sync_store` is neither a file path nor a database URL SQLAlchemy can read."
            raise ConfigurationError(msg) from None
        if url.drivername in ("postgres", "postgresql"):
            url = url.set(drivername="postgresql+psycopg")  # the driver the extra brings
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            msg = (
                f"`sync_store` must be a SQLite file or a PostgreSQL URL, not "
                f"{url.get_backend_name()!r}."
            )
            raise ConfigurationError(msg)
        return url
    return sa.URL.create("sqlite", database=str(store_path(location, root)))


def store_path(location: str | None, root: pathlib.Path) -> pathlib.Path:
    """The SQLite file a `sync_store` that is not a URL names (the default one when unset)."""
    path = pathlib.Path(location).expanduser() if location else DEFAULT_STORE
    return root / path


def shown_url(url: sa.URL) -> str:
    """A store's URL for logs and errors: no password, no query value (it may hold one)."""
    base = url.set(query={}).render_as_string(hide_password=True)
    return f"{base}?{'&'.join(f'{name}=***' for name in url.query)}" if url.query else base


def project_root() -> pathlib.Path:
    """Meltano's project directory when run by Meltano, else the working directory."""
    return pathlib.Path(os.environ.get("MELTANO_PROJECT_ROOT") or os.getcwd())


class SyncStore:
    """The table of written contacts for one portal and id property, and the run's lock on it.

    Lookups may run in several threads at once; so may writes on PostgreSQL, while SQLite's
    are serialized. A store opened `read_only` (dry run) never creates, locks or writes
    anything. `timeout` (seconds) bounds PostgreSQL's connecting, statements and lock waits.
    """

    def __init__(
        self,
        url: sa.URL,
        *,
        portal_id: str,
        id_property: str,
        read_only: bool,
        timeout: float = 60,
    ) -> None:
        self.where = shown_url(url)
        self._portal_id = portal_id
        self._id_property = id_property
        self._read_only = read_only
        self._write_lock: t.ContextManager[t.Any] = contextlib.nullcontext()
        self._run_lock: _RunLock | None = None
        self._engine: sa.Engine | None = None
        self._exists = True
        try:
            if url.get_backend_name() == "sqlite":
                self._open_sqlite(url)
            else:
                self._open_postgres(url, timeout)
            self._prepare()
        except OSError as exc:
            self.close()
            msg = (
                f"The sync store {self.where} (`sync_store`) cannot be opened: {exc}. Set "
                "`sync_store` to a file in a directory this user can write to, or to a "
                "PostgreSQL URL."
            )
            raise SyncStoreError(msg) from None
        except BaseException:
            self.close()
            raise

    def recall(self, keys: Iterable[str]) -> dict[str, Memory]:
        """The memories of these contacts that the store holds, by contact key."""
        by_digest = {key_digest(key): key for key in keys}
        if not by_digest or not self._exists:
            return {}
        query = sa.select(
            written_contacts.c.key_digest,
            written_contacts.c.contact_key,
            written_contacts.c.fingerprint,
            written_contacts.c.record_id,
            written_contacts.c.written_at,
        ).where(self._of_this_portal(), written_contacts.c.key_digest.in_(by_digest))
        with self._failures("looking contacts up"), self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return {
            key: Memory(print_, record_id, _as_utc(at))
            for digest, key, print_, record_id, at in rows
            if by_digest[digest] == key  # two ids with one digest: neither is remembered
        }

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the memories of these contacts."""
        digests = [key_digest(key) for key in keys]
        if not digests:
            return
        statement = written_contacts.delete().where(
            self._of_this_portal(), written_contacts.c.key_digest.in_(digests)
        )
        with self._writing("forgetting contacts") as connection:
            connection.execute(statement)

    def remember(self, confirmed: list[Confirmed], at: datetime.datetime) -> None:
        """Store (or replace) the memories of these confirmed writes."""
        if not confirmed:
            return
        rows = [
            {
                "portal_id": self._portal_id,
                "id_property": self._id_property,
                "key_digest": key_digest(entry.contact_key),
                "contact_key": entry.contact_key,
                "fingerprint": entry.fingerprint,
                "record_id": entry.record_id,
                "written_at": at,
            }
            for entry in confirmed
        ]
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(written_contacts)
        statement = insert.on_conflict_do_update(
            index_elements=["portal_id", "id_property", "key_digest"],
            set_={
                "contact_key": insert.excluded.contact_key,
                "fingerprint": insert.excluded.fingerprint,
                "record_id": insert.excluded.record_id,
                "written_at": insert.excluded.written_at,
            },
        )
        with self._writing("remembering written contacts") as connection:
            connection.execute(statement, rows)

    def close(self) -> None:
        """Release the run's lock and the connections."""
        if self._run_lock is not None:
            self._run_lock.release()
            self._run_lock = None
        if self._engine is not None:
            self._engine.dispose()

    def _of_this_portal(self) -> sa.ColumnElement[bool]:
        return sa.and_(
            written_contacts.c.portal_id == self._portal_id,
            written_contacts.c.id_property == self._id_property,
        )

    def _open_sqlite(self, url: sa.URL) -> None:
        path = pathlib.Path(url.database or "")
        if not url.database or url.database == ":memory:":
            msg = "`sync_store` must name a SQLite file: a store in memory forgets every run."
            raise ConfigurationError(msg)
        if self._read_only and not path.exists():
            self._exists = False  # nothing remembered yet, and a dry run creates nothing
            return
        if not self._read_only:
            create_private(path)  # records' ids are personal data
            self._run_lock = _FileLock(path.with_name(path.name + ".lock"), self._portal_id)
        self._write_lock = threading.Lock()  # SQLite has one writer at a time anyway
        self._engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}
        )
        read_only = self._read_only

        @sa.event.listens_for(self._engine, "connect")
        def _configure(connection: t.Any, _record: t.Any) -> None:
            cursor = connection.cursor()
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
            # Each commit reaches the disk before the call it precedes goes out: a forget lost
            # to a crash after STATE moved on would skip a row that went back to old values.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    def _open_postgres(self, url: sa.URL, timeout: float) -> None:
        try:
            self._engine = sa.create_engine(
                url, pool_pre_ping=True, connect_args=_postgres_bounds(url, timeout)
            )
        except ModuleNotFoundError as exc:
            msg = (
                f"`sync_store` is a PostgreSQL URL but its driver ({exc.name}) is not "
                f"installed: {POSTGRES_EXTRA_HINT}."
            )
            raise ConfigurationError(msg) from None
        milliseconds = str(max(1, round(timeout * 1000)))

        @sa.event.listens_for(self._engine, "connect")
        def _bound_statements(connection: t.Any, _record: t.Any) -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, false), "
                    "set_config('lock_timeout', %s, false)",
                    (milliseconds, milliseconds),
                )
            connection.commit()

        if not self._read_only:
            self._run_lock = _AdvisoryLock(self._engine, self._portal_id)

    def _prepare(self) -> None:
        if self._run_lock is not None:
            try:
                with self._failures("taking the run's lock"):
                    acquired = self._run_lock.acquire()
            except _LockingUnsupportedError as exc:
                msg = (
                    f"The sync store {self.where} (`sync_store`) cannot be locked for this run: "
                    f"{exc}. Its filesystem may not support POSIX locks (some network "
                    "filesystems do not): put the store on a local disk, or use PostgreSQL."
                )
                raise SyncStoreError(msg) from None
            if not acquired:
                msg = (
                    f"Another run is writing to the sync store {self.where} for HubSpot portal "
                    f"{self._portal_id}. Two runs remembering one portal's contacts at once "
                    "could each remember values the other overwrote, so this run stops before "
                    "sending anything. Rerun once the other run has finished, or give this "
                    "pipeline its own `sync_store`."
                )
                raise SyncStoreError(msg)
        if self._engine is None:
            return
        with self._failures("opening it"), self._engine.begin() as connection:
            inspector = sa.inspect(connection)
            if not inspector.has_table(written_contacts.name):
                self._exists = not self._read_only
                if self._exists:
                    _metadata.create_all(connection)
                return
            found = {column["name"] for column in inspector.get_columns(written_contacts.name)}
        self._check_layout(found)

    def _check_layout(self, found: set[str]) -> None:
        """Refuse a table laid out by another version: its rows would be misread."""
        needed = [column.name for column in written_contacts.columns]
        if found == set(needed):
            return
        name = written_contacts.name
        msg = (
            f"The sync store {self.where} (`sync_store`) holds a table `{name}` laid out by "
            f"another version of target-hubspot-contacts (columns {', '.join(sorted(found))}; "
            f"this version needs {', '.join(needed)}), so this run stops before sending "
            f"anything. Drop that table (`DROP TABLE {name};`, or delete a SQLite store's "
            "file): the next run then sends every row once and remembers it anew."
        )
        raise SyncStoreError(msg)

    @contextlib.contextmanager
    def _writing(self, doing: str) -> Iterator[sa.Connection]:
        """One transaction (on SQLite, one writer at a time)."""
        if self._read_only:
            msg = "a read-only (dry run) sync store is never written"
            raise RuntimeError(msg)
        with self._write_lock, self._failures(doing), self._engine.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Turn a database error into a SyncStoreError naming the store, never its password."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            # The driver's own message: SQLAlchemy's quotes the statement and its parameters.
            cause = str(getattr(exc, "orig", None) or "").strip().splitlines()
            msg = (
                f"The sync store {self.where} (`sync_store`) failed while {doing}: "
                f"{cause[0] if cause else type(exc).__name__}. "
                "Nothing unconfirmed was remembered; rerun from the last STATE once it works."
            )
            raise SyncStoreError(msg) from None


def _postgres_bounds(url: sa.URL, timeout: float) -> dict[str, int]:
    """libpq's connect timeout and TCP keepalives, so a server or path that stops answering
    fails the run within about `timeout` seconds; any of them the URL sets itself wins."""
    seconds = max(2, math.ceil(timeout))  # libpq's connect_timeout is at least 2 s
    bounds = {
        "connect_timeout": seconds,
        "keepalives": 1,
        "keepalives_idle": max(1, seconds // 2),
        "keepalives_interval": max(1, seconds // 6),
        "keepalives_count": 3,
        "tcp_user_timeout": seconds * 1000,  # unacknowledged data, in milliseconds
    }
    return {name: value for name, value in bounds.items() if name not in url.query}


def _as_utc(moment: datetime.datetime) -> datetime.datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


class _RunLock(t.Protocol):
    def acquire(self) -> bool: ...

    def release(self) -> None: ...


class _LockingUnsupportedError(Exception):
    """The filesystem refused to lock the store's lock file for a reason other than a holder."""


class _FileLock:
    """A lock on one byte of a side file, the portal id's: held until released or the process
    dies (even by kill -9), so only one run at a time writes one portal's memory."""

    def __init__(self, path: pathlib.Path, portal_id: str) -> None:
        self._path = path
        self._offset = _lock_number(portal_id) % (2**31)
        self._descriptor: int | None = None

    def acquire(self) -> bool:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only
        except ImportError:
            return True  # no advisory locks here: concurrent runs are not detected
        create_private(self._path)
        self._descriptor = os.open(self._path, os.O_RDWR)
        try:
            fcntl.lockf(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self._offset)
        except OSError as exc:
            os.close(self._descriptor)
            self._descriptor = None
            if exc.errno in (errno.EAGAIN, errno.EACCES):  # another process holds it
                return False
            raise _LockingUnsupportedError(f"locking {self._path} failed: {exc.strerror}") from None
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing releases the lock
            self._descriptor = None


class _AdvisoryLock:
    """A PostgreSQL session advisory lock for the portal, on a connection kept for the run:
    the server releases it when the run ends or its connection drops."""

    def __init__(self, engine: sa.Engine, portal_id: str) -> None:
        self._engine = engine
        self._key = _lock_number(f"{_ADVISORY_LOCK_NAMESPACE}:{portal_id}") - 2**63  # a bigint
        self._connection: sa.Connection | None = None

    def acquire(self) -> bool:
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        query = sa.text("SELECT pg_try_advisory_lock(:key)")
        if connection.execute(query, {"key": self._key}).scalar():
            self._connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # ending the session releases the lock
            self._connection = None


def _lock_number(text: str) -> int:
    """A stable unsigned 64-bit number for a lock name (or the portal id itself)."""
    if text.isdigit() and int(text) < 2**63:
        return int(text)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


# --- the policy ------------------------------------------------------------------------------


class SyncMemory:
    """Per call: which contacts need no call, and what HubSpot confirmed, to remember."""

    def __init__(
        self,
        store: SyncStore,
        *,
        settings: bytes,
        skip_unchanged: bool,
        resend_after: datetime.timedelta | None,
        dry_run: bool,
    ) -> None:
        self.store = store
        self._settings = settings
        self._skip_unchanged = skip_unchanged
        self._resend_after = resend_after
        self._dry_run = dry_run

    def before_sending(
        self, writes: Mapping[str, Mapping[str, str]], archives: Iterable[str]
    ) -> dict[str, str | None]:
        """The contacts among `writes` that need no call, with their HubSpot record ids. The
        memories of the others, and of the contacts to archive, are dropped: until HubSpot
        confirms, their state is unknown (and an archived contact is forgotten for good)."""
        unchanged: dict[str, str | None] = {}
        known: set[str] = set(writes)
        if self._skip_unchanged:
            memories = self.store.recall(writes)
            unchanged = {
                key: memory.record_id
                for key, memory in memories.items()
                if self._still_current(memory, writes[key])
            }
            known = set(memories)
        if not self._dry_run:
            self.store.forget([*(known - unchanged.keys()), *archives])
        return unchanged

    def after_answer(self, written: list[tuple[str, Mapping[str, str], str | None]]) -> None:
        """Remember the writes HubSpot confirmed: (contact key, properties sent, record id)."""
        if self._dry_run or not written:
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        # A contact replayed in parts was written several times: the last write counts.
        latest = {key: (properties, record_id) for key, properties, record_id in written}
        confirmed = [
            Confirmed(key, fingerprint(properties, self._settings), record_id)
            for key, (properties, record_id) in latest.items()
        ]
        self.store.remember(confirmed, now)

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    def _still_current(self, memory: Memory, properties: Mapping[str, str]) -> bool:
        if memory.fingerprint != fingerprint(properties, self._settings):
            return False
        if self._resend_after is None:
            return True
        age = datetime.datetime.now(datetime.timezone.utc) - memory.written_at
        return age < self._resend_after


def open_sync_memory(
    config: Mapping[str, t.Any], client: HubSpotClient, logger: logging.Logger, *, dry_run: bool
) -> SyncMemory | None:
    """The run's memory: read to skip unchanged rows (`skip_unchanged`), and kept true by
    every run that writes while a store is in use. None when there is no store to keep."""
    skip_unchanged = bool(config.get("skip_unchanged"))
    full_resync = bool(config.get("full_resync"))
    location = config.get("sync_store") or None
    root = project_root()
    if not (skip_unchanged or full_resync) and not _in_use(location, root, dry_run=dry_run):
        return None
    url = store_url(location, root)
    portal_id = client.portal_id()
    store = SyncStore(
        url,
        portal_id=portal_id,
        id_property=config["id_property"],
        read_only=dry_run,
        timeout=float(config.get("request_timeout") or 60),
    )
    days = config.get("resend_after_days")
    resend_after = datetime.timedelta(days=float(days)) if days else None
    if full_resync:
        what = "every row is sent and remembered (full_resync)"
    elif skip_unchanged:
        what = "rows unchanged since their contact was last written are not sent"
    else:
        what = "every row is sent (`skip_unchanged` is off), and the store kept up to date"
    logger.info(
        "Sync store %s, HubSpot portal %s: %s%s.",
        store.where,
        portal_id,
        what,
        "; dry run: the store is only read" if dry_run else "",
    )
    return SyncMemory(
        store,
        settings=settings_digest(config),
        skip_unchanged=skip_unchanged and not full_resync,
        resend_after=resend_after,
        dry_run=dry_run,
    )


def _in_use(location: str | None, root: pathlib.Path, *, dry_run: bool) -> bool:
    """Whether a run that does not skip must keep a store true: the one `sync_store` names,
    or the default file once it exists (none is created for it). A dry run writes nothing."""
    if dry_run:
        return False
    return location is not None or store_path(None, root).exists()
