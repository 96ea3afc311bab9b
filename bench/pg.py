"""A PostgreSQL cluster run from Debian's server binaries: the benchmark's (kept under bench/data/pg, so its large
databases survive between runs) and the tests' throwaway ones (tests/conftest.py) are both a `Cluster`.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user. fsync is off: the data can be
rebuilt, and neither the benchmark nor the tests measure durability.
"""

from __future__ import annotations

import glob
import os
import pwd
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here (binaries or the postgres user missing, or it failed)."""


def _bin_dir() -> Path:
    """The newest installed version's bin directory (/usr/lib/postgresql/N/bin)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install -y postgresql"
        )

    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    return Path(max(found, key=version)).parent


class Cluster:
    """A cluster in `directory` (its data in directory/data, its log in directory/server.log) serving on 127.0.0.1:`port`.

    Created with initdb on first use; `start` and `stop` may be called again (a test's outage). Raises
    PostgresUnavailable when it cannot be created or started, with PostgreSQL's own words and the end of its log."""

    def __init__(self, directory: Path, port: int):
        self.bin_dir = _bin_dir()
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root but there is no `postgres` user to run PostgreSQL as"
                ) from None
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self.data_dir = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = port
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres"]
            self._check("initialise", self._run([*initdb, "-E", "UTF8", "--no-locale", "--no-sync"]))

    @property
    def url(self) -> str:
        """The server's base URL (no database)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _run(self, args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=self.directory)

    def _check(self, what: str, result: subprocess.CompletedProcess) -> None:
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            detail = "\n".join(part for part in ((result.stderr or result.stdout).strip(), log) if part)
            raise PostgresUnavailable(f"could not {what} PostgreSQL in {self.directory}: {detail}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log), "-o", options]
        self._check("start", self._run([*pg_ctl, "-w", "-t", "120", "start"]))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`mode`: smart, fast or immediate); nothing happens if it is not running."""
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "stop", "-m", mode], timeout=120)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(directory: Path):
    """Start (initialising on first use) the cluster in `directory`; yields the server's base URL; stops it afterwards."""
    cluster = Cluster(directory, _free_port())
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server, creating it (empty) if it does not exist."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
