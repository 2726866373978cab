"""A throwaway PostgreSQL server for the tests, started from the machine's server binaries.

One server per test session, in a temporary directory, on a free loopback port, with its unix
socket in that directory; each test gets a database of its own. As root (CI containers), the
server runs as the `postgres` user, since initdb refuses to run as root.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
import sqlalchemy as sa

INSTALL_HINT = (
    "The PostgreSQL tests need the PostgreSQL server binaries (initdb, pg_ctl). Install them "
    "(Debian/Ubuntu: `apt-get install postgresql`; .ci/run does this) or leave these tests out "
    "on purpose with `bash scripts/test.sh -m 'not postgres'`."
)


def server_binaries() -> pathlib.Path | None:
    """The directory holding initdb and pg_ctl: the newest under /usr/lib/postgresql, or PATH."""
    installed = sorted(
        pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1].parent
    on_path = shutil.which("initdb")
    return pathlib.Path(on_path).parent if on_path else None


class PostgresServer:
    """A running server; `database()` makes an empty database and returns its URL."""

    def __init__(self, bindir: pathlib.Path) -> None:
        self._bindir = bindir
        self._root = pathlib.Path(tempfile.mkdtemp(prefix="hubspot-pg-"))
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(f"Running as root, but there is no `postgres` user. {INSTALL_HINT}")
            os.chown(self._root, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self._data = self._root / "data"

    def start(self) -> PostgresServer:
        """initdb, then start the server and wait until it accepts connections."""
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = (
            f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = self._root / "server.log"
        self._run("pg_ctl", "-D", str(self._data), "-l", str(log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        try:
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for one of its databases."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self._bindir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            log = self._root / "server.log"
            tail = log.read_text(errors="replace")[-2_000:] if log.exists() else ""
            pytest.fail(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{tail}",
                pytrace=False,
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
