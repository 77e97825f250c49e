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
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events.store import layout
from libcrm.features.definitions import BAND_COLUMNS, FEATURE_SCHEMA, SUBJECT_COLUMNS

TABLE = "profiles.parquet"
BANDS, SUBJECTS = "partials-bands.arrow", "partials-subjects.arrow"
LOCK = "_lock"
META_KEY = b"libcrm.features"
PARTIALS_KEY = b"libcrm.features.partials"
_ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
BAND_SCHEMA = pa.schema(
    [pa.field(c, _ARROW_TYPES[t], nullable=c != "patron_key") for c, t in BAND_COLUMNS.items()]
)
SUBJECT_SCHEMA = pa.schema(
    [pa.field(c, _ARROW_TYPES[t], nullable=c != "patron_key") for c, t in SUBJECT_COLUMNS.items()]
)


def _without(table: pa.Table, keys: Iterable[str]) -> pa.Table:
    gone = pa.array(sorted(set(keys)), pa.string())
    return table.filter(pc.invert(pc.is_in(table.column("patron_key"), value_set=gone)))


def _only(table: pa.Table, keys: Iterable[str]) -> pa.Table:
    wanted = pa.array(sorted(set(keys)), pa.string())
    return table.filter(pc.is_in(table.column("patron_key"), value_set=wanted))


@dataclass(frozen=True)
class Partials:
    """The mergeable partial aggregates of some patrons
    (:func:`libcrm.features.definitions.partial_expressions`): ``bands`` per patron and day
    block, ``subjects`` per patron and top-level class."""

    bands: pa.Table
    subjects: pa.Table

    @classmethod
    def empty(cls) -> Partials:
        return cls(BAND_SCHEMA.empty_table(), SUBJECT_SCHEMA.empty_table())

    @classmethod
    def of(cls, bands: pa.Table, subjects: pa.Table) -> Partials:
        """Engine results in the stored schemas."""
        return cls(
            bands.select(BAND_SCHEMA.names).cast(BAND_SCHEMA),
            subjects.select(SUBJECT_SCHEMA.names).cast(SUBJECT_SCHEMA),
        )

    def patron_keys(self) -> set[str]:
        out = set(pc.unique(self.bands.column("patron_key")).to_pylist())
        return out | set(pc.unique(self.subjects.column("patron_key")).to_pylist())

    def only(self, keys: Iterable[str]) -> Partials:
        keys = list(keys)
        return Partials(_only(self.bands, keys), _only(self.subjects, keys))

    def without(self, keys: Iterable[str]) -> Partials:
        keys = list(keys)
        return Partials(_without(self.bands, keys), _without(self.subjects, keys))

    def split(self, keys: Iterable[str]) -> tuple[Partials, Partials]:
        """(the rows of ``keys``, the others): one look-up of each row's key."""
        wanted = pa.array(sorted(set(keys)), pa.string())
        parts: list[tuple[pa.Table, pa.Table]] = []
        for table in (self.bands, self.subjects):
            mask = pc.is_in(table.column("patron_key"), value_set=wanted)
            parts.append((table.filter(mask), table.filter(pc.invert(mask))))
        return Partials(parts[0][0], parts[1][0]), Partials(parts[0][1], parts[1][1])

    def plus(self, other: Partials) -> Partials:
        """Both sets of rows (not merged: see :func:`libcrm.features.engine.merge`)."""
        return Partials(
            pa.concat_tables([self.bands, other.bands]),
            pa.concat_tables([self.subjects, other.subjects]),
        )

    def sorted(self) -> Partials:
        return Partials(
            self.bands.sort_by([("patron_key", "ascending"), ("block", "ascending")]),
            self.subjects.sort_by([("patron_key", "ascending"), ("top_class", "ascending")]),
        )


@dataclass(frozen=True)
class PartialsState:
    """What the stored partials reflect: an incremental refresh can merge a batch into them
    only while as-of date, zone and 24-hour branches are the same, and only the batches after
    ``batch_seq``."""

    as_of: str
    tz: str
    spaces_24h: tuple[str, ...]
    store_id: str
    batch_seq: int
    alias_version: int
    write_id: str = ""  # the same in both files of one write


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
        self._partials_cache: (
            tuple[tuple[tuple[int, int, int], ...], tuple[Partials, PartialsState] | None] | None
        ) = None
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
        st = os.stat(self.path)  # what was written is what a read would parse
        with self._guard:
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            self._cache = (stamp, table.replace_schema_metadata(None), provenance)

    # --- the partials kept beside the table, for incremental refreshes -----------------------

    def read_partials(self) -> tuple[Partials, PartialsState] | None:
        """The stored partials and what they reflect (None when there are none, or the two
        files are not of one write); parsed once per file version."""
        try:
            stamps = tuple(
                (st.st_ino, st.st_mtime_ns, st.st_size)
                for st in (os.stat(self.folder / BANDS), os.stat(self.folder / SUBJECTS))
            )
        except FileNotFoundError:
            return None
        with self._guard:
            cached = self._partials_cache
            if cached is not None and cached[0] == stamps:
                return cached[1]
        bands, subjects = _read_ipc(self.folder / BANDS), _read_ipc(self.folder / SUBJECTS)
        states = [_partials_state(t.schema.metadata or {}) for t in (bands, subjects)]
        found = None
        if states[0] is not None and states[0] == states[1]:
            found = (
                Partials(
                    bands.replace_schema_metadata(None).cast(BAND_SCHEMA),
                    subjects.replace_schema_metadata(None).cast(SUBJECT_SCHEMA),
                ),
                states[0],
            )
        with self._guard:
            self._partials_cache = (stamps, found)
        return found

    def replace_partials(self, partials: Partials, state: PartialsState) -> None:
        """Write the partials (both files, each atomically; call inside :meth:`writing`)."""
        state = replace(state, write_id=os.urandom(8).hex())
        metadata = {PARTIALS_KEY: json.dumps(asdict(state)).encode()}
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, table, schema in (
            (BANDS, partials.bands, BAND_SCHEMA),
            (SUBJECTS, partials.subjects, SUBJECT_SCHEMA),
        ):
            tmp = self.folder / layout.temp_name(name)
            # Arrow IPC, LZ4 frames: written and read several times faster than Parquet, and
            # only ever read whole by this class.
            table = table.cast(schema).replace_schema_metadata(metadata)
            with pa.OSFile(str(tmp), "wb") as sink:
                options = pa.ipc.IpcWriteOptions(compression="lz4")
                with pa.ipc.new_file(sink, table.schema, options=options) as writer:
                    writer.write_table(table, max_chunksize=131_072)
            layout.fsync_file(tmp)
            os.replace(tmp, self.folder / name)
        layout.fsync_dir(self.folder)
        stamps = tuple(
            (st.st_ino, st.st_mtime_ns, st.st_size)
            for st in (os.stat(self.folder / BANDS), os.stat(self.folder / SUBJECTS))
        )
        with self._guard:
            self._partials_cache = (stamps, (partials, state))

    def drop_partials(self) -> None:
        """Remove the partials (they no longer match the table; call inside :meth:`writing`)."""
        for name in (BANDS, SUBJECTS):
            (self.folder / name).unlink(missing_ok=True)
        with self._guard:
            self._partials_cache = None

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


def _read_ipc(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:  # read into memory: the file may be replaced
        return pa.ipc.open_file(source).read_all()


def _partials_state(metadata: dict[bytes, bytes]) -> PartialsState | None:
    raw = metadata.get(PARTIALS_KEY)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
        found["spaces_24h"] = tuple(found["spaces_24h"])
        return PartialsState(**found)
    except (KeyError, TypeError, ValueError):
        return None


def _provenance(metadata: dict[bytes, bytes]) -> Provenance | None:
    raw = metadata.get(META_KEY)
    if raw is None:
        return None
    try:
        return Provenance(**json.loads(raw))
    except (TypeError, ValueError):
        return None
