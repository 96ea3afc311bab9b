"""A PostgreSQL cluster for the benchmark, kept under bench/data/pg so its large databases survive between runs.

Started for a run and stopped after it. initdb and pg_ctl refuse to run as root, so as root they
run as the `postgres` user. fsync is off: the data can be rebuilt, and the benchmark measures
reading, not durability.
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
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install -y postgresql"
        )
    return Path(
        max(found, key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    ).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)


@contextmanager
def server(directory: Path):
    """Start (initialising on first use) the cluster in `directory`; yields the server's base URL; stops it afterwards."""
    bin_dir = _bin_dir()
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root but there is no `postgres` user to run PostgreSQL as") from None
        os.chown(directory, user.pw_uid, user.pw_gid)
    data = directory / "data"
    if not (data / "PG_VERSION").exists():
        result = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            directory,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(result.stderr or result.stdout).strip()}")
    port = _free_port()
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    result = _run(
        [pg_ctl, "-D", str(data), "-l", str(directory / "server.log"), "-o", options, "-w", "-t", "120", "start"],
        directory,
        timeout=180,
    )
    if result.returncode != 0:
        raise PostgresUnavailable(f"PostgreSQL did not start: {(result.stderr or result.stdout).strip()}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        _run([pg_ctl, "-D", str(data), "stop", "-m", "fast"], directory, timeout=120)


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
