"""Where the event store keeps things on disk, and the few file-system moves that make it safe.

Layout (hive style, so DuckDB, Spark and pyarrow all prune by partition)::

    root/_manifest.json                      the published list of live files (commit point)
    root/_lock                               writers take an exclusive flock on it
    root/_writer.json                        present while a write is in progress (crash marker)
    root/_tmp/                               DuckDB spill space
    root/year=2026/month=03/<name>.parquet   event files, partitioned by UTC month
    root/year=2026/month=03/.<name>.tmp      a file being written (never read, swept on recovery)

Durability follows the usual recipe: write aside, fsync the file, rename into place, fsync the
folder, so that after a crash a name either points at a complete file or does not exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from libcrm.events.errors import EventStoreError

MANIFEST = "_manifest.json"
LOCK = "_lock"
WRITER_MARKER = "_writer.json"
SPILL_DIR = "_tmp"
PARTITION_RE = re.compile(r"^year=(\d{4})/month=(\d{2})$")
DATA_SUFFIX = ".parquet"
TMP_SUFFIX = ".tmp"


def partition_of(year: int, month: int) -> str:
    """The relative folder of a month: ``year=2026/month=03``."""
    return f"year={year:04d}/month={month:02d}"


def parse_partition(relative_dir: str) -> tuple[int, int]:
    match = PARTITION_RE.match(relative_dir)
    if not match:
        raise EventStoreError(f"{relative_dir!r} is not a partition folder (year=YYYY/month=MM)")
    return int(match.group(1)), int(match.group(2))


def new_operation_id(kind: str = "b") -> str:
    """A sortable, unique name for a batch or a rewrite: ``b20260324T101500Z-3f9a1c2e``.

    It prefixes every file the operation writes, so recovery and people can tell at a glance
    which files belong together.
    """
    return f"{kind}{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def temp_name(final_name: str) -> str:
    return f".{final_name}{TMP_SUFFIX}"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (the folder's entry list is data too)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(root: Path, relative_dir: str) -> Path:
    """Create a partition folder and fsync each parent whose entries changed."""
    target = root / relative_dir
    if target.is_dir():
        return target
    created = []
    current = target
    while not current.exists():
        created.append(current)
        current = current.parent
    target.mkdir(parents=True, exist_ok=True)
    for folder in reversed(created):
        fsync_dir(folder.parent)
    return target


def publish_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data`` (write aside, fsync, rename, fsync folder)."""
    tmp = path.with_name(temp_name(path.name))
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def rename_into_place(tmp: Path, final: Path) -> None:
    """Move a fully written, fsynced file to its final name; refuses to overwrite."""
    if final.exists():
        raise EventStoreError(f"{final} already exists; refusing to overwrite event data")
    os.rename(tmp, final)


def partition_dirs(root: Path) -> Iterator[tuple[str, Path]]:
    """Every ``year=YYYY/month=MM`` folder under ``root``, as (relative path, absolute path)."""
    for year_dir in sorted(root.glob("year=*")):
        for month_dir in sorted(year_dir.glob("month=*")):
            relative = f"{year_dir.name}/{month_dir.name}"
            if PARTITION_RE.match(relative) and month_dir.is_dir():
                yield relative, month_dir


@contextlib.contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """One writer at a time per store, across processes; the kernel drops the lock when its
    holder dies, so a SIGKILLed import never leaves the store locked."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EventStoreError(
                        f"another process has been writing to the event store for more than "
                        f"{timeout:.0f} s ({path}); try again later"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
