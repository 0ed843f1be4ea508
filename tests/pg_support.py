"""A throwaway PostgreSQL cluster for the store tests.

:class:`PostgresCluster` runs Debian's server binaries (``initdb``, ``pg_ctl``; package
``postgresql``, installed by ``make sysdeps``) on a fresh data directory in a private
temporary folder: trust authentication, no TCP listener, a unix socket in that folder,
``fsync`` off (a test cluster needs no durability against power loss; the kill tests kill
clients, never the server). PostgreSQL refuses to run as root, so when the tests run as
root (CI does) the server runs as the ``postgres`` system user (``runuser``), which owns
the folder. Each test gets a database of its own (:meth:`PostgresCluster.new_database`),
dropped when the test ends; :meth:`PostgresCluster.stop` stops the server and removes the
folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MISSING = ("the PostgreSQL server binaries (initdb, pg_ctl) are not installed; `make sysdeps` "
           "installs them (Debian package postgresql).")
#: The unprivileged user that runs the server when the tests run as root.
SERVER_USER = "postgres"
SUPERUSER = "spinepain"
PORT = 5432


def find_pg_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest
    ``/usr/lib/postgresql/<version>/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                        else 0)
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVER_USER, "--", *argv]


@dataclass
class PostgresCluster:
    """A running test cluster (see the module docstring)."""

    root: Path
    bin_dir: Path
    databases: list[str] = field(default_factory=list)
    _counter: int = 0

    @property
    def socket_dir(self) -> Path:
        return self.root

    @classmethod
    def start(cls) -> PostgresCluster:
        """initdb + pg_ctl start; a ``RuntimeError`` with one sentence when it cannot."""
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError(MISSING)
        root = Path(tempfile.mkdtemp(prefix="spinepain-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                shutil.rmtree(root, ignore_errors=True)
                raise RuntimeError(f"the tests run as root and there is no {SERVER_USER!r} "
                                   "user to run PostgreSQL; `make sysdeps` installs the "
                                   "postgresql package, which creates it.") from None
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = cls(root=root, bin_dir=bin_dir)
        try:
            cluster._run("initdb", "-D", str(root / "data"), "-U", SUPERUSER, "-A", "trust",
                         "--no-locale", "-E", "UTF8", "--no-sync")
            options = (f"-k {root} -p {PORT} -c listen_addresses='' -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=60 -c shared_buffers=32MB")
            cluster._run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"),
                         "-o", options, "-w", "-t", "60", "start")
        except Exception:
            cluster.stop()
            raise
        return cluster

    def _run(self, program: str, *args: str) -> None:
        argv = _as_server_user([str(self.bin_dir / program), *args])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]} {tail}")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` over the cluster's unix socket (psycopg 3)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=PORT, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}_{int(time.time() * 1000) % 100000}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        self.databases.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (closing its connections)."""
        name = url.split("/")[-1].split("?")[0]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.databases:
            self.databases.remove(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if (self.root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w",
                          "stop")
        shutil.rmtree(self.root, ignore_errors=True)
