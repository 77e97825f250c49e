"""The member files of segment snapshots: one Parquet file per snapshot, keyed by the
pseudonymous ``patron_key`` with the reasons (which conditions held, with which values),
written aside and renamed into place. Pure: no Django."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from libcrm.events.store import layout


def write_members(folder: Path, name: str, members: pa.Table) -> Path:
    """``members`` as ``folder/name``, atomically; returns the path."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = folder / name
    tmp = folder / layout.temp_name(name)
    pq.write_table(members, tmp, compression="zstd")
    layout.fsync_file(tmp)
    os.replace(tmp, final)
    layout.fsync_dir(folder)
    return final


def read_members(path: Path) -> pa.Table:
    return pq.read_table(path)
