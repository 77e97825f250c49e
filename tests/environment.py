"""Test environment, loaded before Django (``-p tests.environment`` in pyproject).

Every run gets a fresh LIBCRM_HOME (data and keys) in a temporary folder, so tests never touch
``./var``. With ``LIBCRM_TEST_DATABASE=postgres`` it also starts a throwaway PostgreSQL cluster
on 127.0.0.1 (initdb into a temporary folder, fsync off) and points DATABASE_URL at it; the
cluster is stopped and deleted when the run ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="libcrm-test-"))
os.environ["LIBCRM_HOME"] = str(_HOME)
os.environ.pop("LIBCRM_KEYS", None)
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("TMPDIR", tempfile.gettempdir())
atexit.register(shutil.rmtree, _HOME, True)


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, if PostgreSQL server binaries are installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="libcrm-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self.as_root:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "libcrm",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )
        atexit.register(self.stop)
        return f"postgres://libcrm@127.0.0.1:{self.port}/libcrm"

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)


DATABASE_KIND = os.environ.get("LIBCRM_TEST_DATABASE", "sqlite")
_postgres: ThrowawayPostgres | None = None
if DATABASE_KIND == "postgres":
    _bindir = postgres_bin()
    if _bindir is None:
        raise pytest.UsageError(
            "LIBCRM_TEST_DATABASE=postgres but no PostgreSQL server binaries were found; "
            "install them with: apt-get install postgresql"
        )
    _postgres = ThrowawayPostgres(_bindir)
    os.environ["DATABASE_URL"] = _postgres.start()


def pytest_report_header(config: pytest.Config) -> str:
    where = f"PostgreSQL on port {_postgres.port}" if _postgres else "SQLite"
    return f"libcrm: database {where}; LIBCRM_HOME={_HOME}"
