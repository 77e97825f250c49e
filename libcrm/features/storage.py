"""The stored feature table: one Parquet file, replaced atomically, with what it was computed
from in its metadata (as-of date, time zone, the event store's manifest generation, ledger
position and alias version).

Writers merge under a lock file, so an incremental refresh and an erasure never lose each
other's work; readers never lock: they read whichever complete file the name points at.
Pure: no Django.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events.store import layout
from libcrm.features.definitions import FEATURE_SCHEMA

TABLE = "profiles.parquet"
LOCK = "_lock"
META_KEY = b"libcrm.features"


@dataclass(frozen=True)
class Provenance:
    """What a stored table reflects."""

    as_of: str  # ISO date of the last full refresh (rows carry their own as_of)
    tz: str
    engine: str
    store_id: str
    generation: int  # event store manifest generation read
    batch_seq: int  # ledger position: the last batch the table has seen
    alias_version: int
    computed_at: str  # ISO time, UTC
    full: bool  # the last write was a full refresh

    @property
    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of)


class FeatureFile:
    """The feature table of one installation, in ``folder``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / TABLE
        self._cache: tuple[tuple[int, int, int], pa.Table, Provenance | None] | None = None
        self._guard = threading.Lock()

    @contextmanager
    def writing(self, timeout: float = 600.0) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with layout.exclusive_lock(self.folder / LOCK, timeout):
            yield

    def read(self) -> tuple[pa.Table, Provenance | None]:
        """The stored table and its provenance (empty and None before the first refresh);
        parsed once per file version."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return FEATURE_SCHEMA.empty_table(), None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._guard:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1], self._cache[2]
        table = pq.read_table(self.path)
        provenance = _provenance(table.schema.metadata or {})
        table = table.replace_schema_metadata(None)
        with self._guard:
            self._cache = (stamp, table, provenance)
        return table, provenance

    def replace(self, table: pa.Table, provenance: Provenance) -> None:
        """Write ``table`` aside, fsync, rename over the old one (call inside :meth:`writing`)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        metadata = {META_KEY: json.dumps(asdict(provenance)).encode()}
        table = table.cast(FEATURE_SCHEMA).replace_schema_metadata(metadata)
        tmp = self.folder / layout.temp_name(TABLE)
        pq.write_table(table, tmp, compression="lz4", row_group_size=16_384)
        layout.fsync_file(tmp)
        os.replace(tmp, self.path)
        layout.fsync_dir(self.folder)

    def merge(self, rows: pa.Table, drop: Iterable[str], provenance: Provenance) -> pa.Table:
        """The stored table without the rows of ``drop`` and of every key in ``rows``, plus
        ``rows``; written (call inside :meth:`writing`)."""
        current, _ = self.read()
        gone = pa.array(sorted(set(drop) | set(rows.column("patron_key").to_pylist())), pa.string())
        kept = current.filter(pc.invert(pc.is_in(current.column("patron_key"), value_set=gone)))
        merged = pa.concat_tables([kept, rows.cast(FEATURE_SCHEMA)])
        merged = merged.take(pc.sort_indices(merged, [("patron_key", "ascending")]))
        self.replace(merged, provenance)
        return merged


def _provenance(metadata: dict[bytes, bytes]) -> Provenance | None:
    raw = metadata.get(META_KEY)
    if raw is None:
        return None
    try:
        return Provenance(**json.loads(raw))
    except (TypeError, ValueError):
        return None
