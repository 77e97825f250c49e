"""The stored feature table and the partial aggregates kept beside it.

The table is a base Parquet file (written by a full refresh) and numbered overlays, one per
incremental refresh since, holding the rows it recomputed; each file is replaced atomically
and carries what it reflects in its metadata (as-of date, time zone, the event store's
manifest generation, ledger position and alias version). An overlay names the base it applies
to, so one left from an older base (or after a missing one) is never applied. The partials
likewise: a base written by a full refresh, then one delta per appended batch, numbered, each
naming its base. An incremental refresh therefore writes what it computed — the touched
patrons' rows and the batch's partials — never the whole table and partials again; the daily
full refresh starts new bases, and overlays or deltas that outgrow :data:`TABLE_FOLD` /
:data:`PARTIALS_FOLD` times their base are folded into one earlier.

Writers merge under a lock file, so an incremental refresh and an erasure never lose each
other's work; readers never lock: they read whichever complete files the names point at.
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
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events.store import layout
from libcrm.features.definitions import BAND_COLUMNS, FEATURE_SCHEMA, SUBJECT_COLUMNS

TABLE = "profiles.parquet"
OVERLAY_GLOB = "profiles-overlay-*.arrow"
BANDS, SUBJECTS = "partials-bands.arrow", "partials-subjects.arrow"
DELTA_GLOB = "partials-delta-*.arrow"
LOCK = "_lock"
META_KEY = b"libcrm.features"
BASE_KEY = b"libcrm.features.base"
PARTIALS_KEY = b"libcrm.features.partials"
DELTA_KEY = b"libcrm.features.partials.delta"
TABLE_FOLD = 2.0
"""Overlays holding more rows than this many times the base table's are folded into a new
base (a full refresh, run daily, folds them anyway)."""
PARTIALS_FOLD = 1.0
"""Likewise the partials' deltas, against the base partials' rows."""
FOLD_MINIMUM = 1_000  # rows: below, a table is small enough to rewrite whenever
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
    write_id: str = ""  # the same in both files of one write (of the base, for a delta's)
    base_write_id: str = ""  # a delta's: the base it follows
    delta: int = 0  # how many deltas follow the base (a delta's: its place)


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


@dataclass(frozen=True)
class StoredPartials:
    """The partials as stored: ``base`` (one row per key, written by a full refresh or a fold)
    and ``deltas`` (the batches merged in since, each batch's own partials, one after the
    other: a key may have rows in several); ``state`` is what base and deltas together
    reflect."""

    base: Partials
    deltas: Partials
    state: PartialsState

    def gather(self, batch: Partials, touched: Iterable[str]) -> tuple[pa.Table, Partials]:
        """The rows of the patrons ``batch`` touches (``touched``, its keys), from the store
        and the batch, in two parts: the base's bands that are alone in their key and block
        (the base has one row per key and block, and neither the deltas nor the batch add to
        that block), and the rest, which may repeat and must be merged. Each stored row is
        looked at once."""
        wanted = pa.array(sorted(touched), pa.string())
        deltas = Partials(
            self.deltas.bands.filter(pc.is_in(self.deltas.bands.column("patron_key"), wanted)),
            self.deltas.subjects.filter(
                pc.is_in(self.deltas.subjects.column("patron_key"), wanted)
            ),
        )
        blocks = pc.unique(
            pa.concat_arrays(
                [t.column("block").combine_chunks() for t in (deltas.bands, batch.bands)]
            )
        )
        bands = self.base.bands
        theirs = pc.is_in(bands.column("patron_key"), value_set=wanted)
        shared = pc.is_in(bands.column("block"), value_set=blocks)
        single = bands.filter(pc.and_(theirs, pc.invert(shared)))
        subjects = self.base.subjects
        repeated = Partials(
            pa.concat_tables([bands.filter(pc.and_(theirs, shared)), deltas.bands, batch.bands]),
            pa.concat_tables(
                [
                    subjects.filter(pc.is_in(subjects.column("patron_key"), value_set=wanted)),
                    deltas.subjects,
                    batch.subjects,
                ]
            ),
        )
        return single, repeated


@dataclass(frozen=True)
class _Overlay:
    name: str
    stamp: tuple[int, int, int]
    table: pa.Table
    provenance: Provenance | None


@dataclass(frozen=True)
class _Table:
    """One parsed version of the table: the base, its valid overlays (in order) and, once a
    reader asked, the whole base and the table they make together."""

    base_stamp: tuple[int, int, int]
    base_keys: pa.Array
    base_id: str
    base_provenance: Provenance | None
    overlays: tuple[_Overlay, ...]
    listing: tuple[tuple[str, tuple[int, int, int]], ...]  # overlay files seen when parsed
    base: pa.Table | None = None
    combined: pa.Table | None = None

    @property
    def provenance(self) -> Provenance | None:
        return self.overlays[-1].provenance if self.overlays else self.base_provenance

    @property
    def overlay_rows(self) -> int:
        return sum(o.table.num_rows for o in self.overlays)


class FeatureFile:
    """The feature table of one installation, in ``folder``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / TABLE
        self._table: _Table | None = None
        self._partials_cache: tuple[tuple[Any, ...], StoredPartials | None] | None = None
        self._guard = threading.Lock()

    @contextmanager
    def writing(self, timeout: float = 600.0) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with layout.exclusive_lock(self.folder / LOCK, timeout):
            yield

    # --- the table: a base file and overlays of the rows refreshed since ---------------------

    def _listing(self) -> tuple[tuple[str, tuple[int, int, int]], ...]:
        out = []
        for path in sorted(self.folder.glob(OVERLAY_GLOB)):
            try:
                out.append((path.name, _stamp(path)))
            except FileNotFoundError:
                continue
        return tuple(out)

    def _parsed(self, whole: bool, combine: bool = True) -> _Table | None:
        """The current version (None before the first refresh), parsed once per set of file
        versions; with ``whole``, the base and (unless not to ``combine``) the applied table
        too."""
        try:
            base_stamp = _stamp(self.path)
        except FileNotFoundError:
            return None
        listing = self._listing()
        with self._guard:
            found = self._table
        if found is None or found.base_stamp != base_stamp or (whole and found.base is None):
            found = self._parse_base(whole)
            if found is None:
                return None
        if found.listing != listing:
            found = self._with_overlays(found, listing)
        if whole and combine and found.combined is None:
            assert found.base is not None
            combined = found.base
            if found.overlays:
                combined = _applied(found.base, _latest(found.overlays))
            found = replace(found, combined=combined)
        with self._guard:
            self._table = found
        return found

    def _parse_base(self, whole: bool) -> _Table | None:
        try:
            with open(self.path, "rb") as source:  # the version opened is the one stamped
                stamp = _stamp_of(os.fstat(source.fileno()))
                if whole:
                    base = pq.read_table(source)
                    metadata = base.schema.metadata or {}
                    keys = base.column("patron_key").combine_chunks()
                    base = base.replace_schema_metadata(None)
                else:
                    base = None
                    parquet = pq.ParquetFile(source)
                    metadata = parquet.schema_arrow.metadata or {}
                    keys = parquet.read(columns=["patron_key"]).column("patron_key")
                    keys = keys.combine_chunks()
        except FileNotFoundError:
            return None
        provenance = _provenance(metadata)
        base_id = metadata.get(BASE_KEY, b"").decode()
        return _Table(stamp, keys, base_id, provenance, (), (), base)

    def _with_overlays(self, found: _Table, listing: Any) -> _Table:
        """``found`` with the overlays of its base, numbered 1, 2, … without a gap (one of
        another base, or after a missing one, is stale: a write died or a full refresh
        replaced the base meanwhile)."""
        overlays: list[_Overlay] = []
        for name, _ in listing:
            if not found.base_id or name != _overlay_name(len(overlays) + 1):
                break
            try:
                with pa.OSFile(str(self.folder / name), "rb") as source:
                    stamp = _stamp(self.folder / name)
                    table = pa.ipc.open_file(source).read_all()
            except FileNotFoundError:
                break
            metadata = table.schema.metadata or {}
            if metadata.get(BASE_KEY) != found.base_id.encode():
                break
            overlays.append(
                _Overlay(name, stamp, table.replace_schema_metadata(None), _provenance(metadata))
            )
        return replace(found, overlays=tuple(overlays), listing=listing, combined=None)

    def read(self) -> tuple[pa.Table, Provenance | None]:
        """The stored table and its provenance (empty and None before the first refresh);
        parsed once per file version."""
        found = self._parsed(whole=True)
        if found is None:
            return FEATURE_SCHEMA.empty_table(), None
        assert found.combined is not None
        return found.combined, found.provenance

    def version(self) -> tuple[Any, ...] | None:
        """Changes whenever the table does (a new base or overlay); None before the first
        refresh. A stat and a directory listing: cheap enough to ask before every read of
        something derived from the table."""
        try:
            base_stamp = _stamp(self.path)
        except FileNotFoundError:
            return None
        return (str(self.folder), base_stamp, self._listing())

    def read_provenance(self) -> Provenance | None:
        """What the stored table reflects, without parsing the table itself."""
        found = self._parsed(whole=False)
        return found.provenance if found is not None else None

    def row_count(self) -> int:
        found = self._parsed(whole=False)
        return 0 if found is None else _count(found.base_keys, found.overlays)

    def replace(self, table: pa.Table, provenance: Provenance) -> None:
        """Write ``table`` as the new base (aside, fsync, rename over the old one) and drop
        the overlays (call inside :meth:`writing`)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        base_id = os.urandom(8).hex()
        metadata = {META_KEY: json.dumps(asdict(provenance)).encode(), BASE_KEY: base_id.encode()}
        table = table.cast(FEATURE_SCHEMA)
        _write_parquet(self.folder, TABLE, table.replace_schema_metadata(metadata))
        for path in self.folder.glob(OVERLAY_GLOB):  # of the old base: stale in any case now
            path.unlink(missing_ok=True)
        layout.fsync_dir(self.folder)
        keys = table.column("patron_key").combine_chunks()
        found = _Table(_stamp(self.path), keys, base_id, provenance, (), (), table, table)
        with self._guard:
            self._table = found

    def merge(self, rows: pa.Table, drop: Iterable[str], provenance: Provenance) -> int:
        """The stored table without the rows of ``drop`` and of every key in ``rows``, plus
        ``rows``; written (call inside :meth:`writing`); the number of rows afterwards.

        The rows are written as the next overlay — a refresh that touches some patrons
        writes those rows, not the whole table — until the overlays hold more than
        :data:`TABLE_FOLD` times the base's rows (a full refresh, daily, folds them first),
        or rows are dropped: then everything is folded into a new base."""
        drop = set(drop)
        rows = rows.cast(FEATURE_SCHEMA)
        found = self._parsed(whole=False)
        limit = TABLE_FOLD * max(len(found.base_keys), FOLD_MINIMUM) if found else 0
        if found is None or drop or found.overlay_rows + rows.num_rows > limit:
            # One pass: the base with the overlays' newest rows and these applied at once.
            found = self._parsed(whole=True, combine=False)
            base = found.base if found is not None else None
            if base is None:
                base = FEATURE_SCHEMA.empty_table()
            pending = _Overlay("", (0, 0, 0), rows, provenance)
            overlays = (*found.overlays, pending) if found is not None else (pending,)
            merged = _applied(base, _latest(overlays))
            merged = _without(merged, drop) if drop else merged
            self.replace(merged, provenance)
            return merged.num_rows
        name = _overlay_name(len(found.overlays) + 1)
        for path in self.folder.glob(OVERLAY_GLOB):  # stale: after a gap, or of another base
            if path.name >= name:
                path.unlink(missing_ok=True)
        if not _in_key_order(rows):
            rows = rows.take(pc.sort_indices(rows, [("patron_key", "ascending")]))
        metadata = {
            META_KEY: json.dumps(asdict(provenance)).encode(),
            BASE_KEY: found.base_id.encode(),
        }
        # Arrow IPC like the partials: written and read whole, several times faster.
        _write_ipc(self.folder, name, rows.replace_schema_metadata(metadata))
        layout.fsync_dir(self.folder)
        overlay = _Overlay(name, _stamp(self.folder / name), rows, provenance)
        overlays = (*found.overlays, overlay)
        listing = tuple((o.name, o.stamp) for o in overlays)
        updated = replace(found, overlays=overlays, listing=listing, combined=None)
        with self._guard:
            self._table = updated
        return _count(found.base_keys, overlays)

    # --- the partials kept beside the table, for incremental refreshes -----------------------

    def _partials_stamps(self) -> tuple[Any, ...] | None:
        try:
            base = tuple(_stamp(self.folder / name) for name in (BANDS, SUBJECTS))
        except FileNotFoundError:
            return None
        deltas = sorted(p.name for p in self.folder.glob(DELTA_GLOB))
        stamps = []
        for name in deltas:
            try:
                stamps.append((name, _stamp(self.folder / name)))
            except FileNotFoundError:
                continue
        return (base, tuple(stamps))

    def read_partials(self) -> StoredPartials | None:
        """The stored partials, base and deltas, and what they reflect (None when there are
        none, or the base's two files are not of one write; deltas of another base, or
        after a missing one, are left out); parsed once per file version."""
        stamps = self._partials_stamps()
        if stamps is None:
            return None
        with self._guard:
            cached = self._partials_cache
            if cached is not None and cached[0] == stamps:
                return cached[1]
        try:
            bands, subjects = _read_ipc(self.folder / BANDS), _read_ipc(self.folder / SUBJECTS)
        except FileNotFoundError:
            return None
        states = [_partials_state(t.schema.metadata or {}) for t in (bands, subjects)]
        found = None
        if states[0] is not None and states[0] == states[1]:
            base = Partials(
                bands.replace_schema_metadata(None).cast(BAND_SCHEMA),
                subjects.replace_schema_metadata(None).cast(SUBJECT_SCHEMA),
            )
            deltas, state = self._read_deltas(states[0])
            found = StoredPartials(base, deltas, state)
        with self._guard:
            self._partials_cache = (stamps, found)
        return found

    def _read_deltas(self, base: PartialsState) -> tuple[Partials, PartialsState]:
        parts: list[Partials] = []
        state = base
        seq = 1
        while True:
            try:
                pair = [_read_ipc(self.folder / _delta_name(seq, p)) for p in ("bands", "subjects")]
            except FileNotFoundError:
                break
            found = [_partials_state(t.schema.metadata or {}, DELTA_KEY) for t in pair]
            if found[0] is None or found[0] != found[1] or found[0].base_write_id != base.write_id:
                break
            parts.append(
                Partials(
                    pair[0].replace_schema_metadata(None).cast(BAND_SCHEMA),
                    pair[1].replace_schema_metadata(None).cast(SUBJECT_SCHEMA),
                )
            )
            state = replace(found[0], write_id=base.write_id, base_write_id="", delta=0)
            seq += 1
        deltas = Partials.empty()
        for part in parts:
            deltas = deltas.plus(part)
        return deltas, replace(state, delta=seq - 1)

    def replace_partials(self, partials: Partials, state: PartialsState) -> None:
        """Write the partials as the new base (both files, each atomically) and drop the
        deltas (call inside :meth:`writing`)."""
        state = replace(state, write_id=os.urandom(8).hex(), base_write_id="", delta=0)
        metadata = {PARTIALS_KEY: json.dumps(asdict(state)).encode()}
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, table, schema in (
            (BANDS, partials.bands, BAND_SCHEMA),
            (SUBJECTS, partials.subjects, SUBJECT_SCHEMA),
        ):
            _write_ipc(self.folder, name, table.cast(schema).replace_schema_metadata(metadata))
        self._drop_deltas()
        layout.fsync_dir(self.folder)
        found = StoredPartials(partials, Partials.empty(), state)
        with self._guard:
            self._partials_cache = (self._partials_stamps(), found)

    def append_partials(self, delta: Partials, state: PartialsState) -> StoredPartials:
        """Add ``delta`` (a batch's own partials) after the stored ones; ``state`` is what
        they reflect with it (call inside :meth:`writing`). The base is not rewritten."""
        stored = self.read_partials()
        if stored is None:
            raise ValueError("append_partials: no stored partials to add to")
        seq = stored.state.delta + 1
        for stale in self.folder.glob(DELTA_GLOB):  # of another base, or after a gap
            if _delta_seq(stale.name) >= seq:
                stale.unlink(missing_ok=True)
        delta_state = replace(
            state, write_id=os.urandom(8).hex(), base_write_id=stored.state.write_id, delta=seq
        )
        metadata = {DELTA_KEY: json.dumps(asdict(delta_state)).encode()}
        for part, table, schema in (
            ("subjects", delta.subjects, SUBJECT_SCHEMA),
            ("bands", delta.bands, BAND_SCHEMA),
        ):
            _write_ipc(
                self.folder,
                _delta_name(seq, part),
                table.cast(schema).replace_schema_metadata(metadata),
            )
        layout.fsync_dir(self.folder)
        now = replace(delta_state, write_id=stored.state.write_id, base_write_id="")
        found = StoredPartials(stored.base, stored.deltas.plus(delta), now)
        with self._guard:
            self._partials_cache = (self._partials_stamps(), found)
        return found

    def _drop_deltas(self) -> None:
        for path in self.folder.glob(DELTA_GLOB):
            path.unlink(missing_ok=True)

    def drop_partials(self) -> None:
        """Remove the partials (they no longer match the table; call inside :meth:`writing`)."""
        for name in (BANDS, SUBJECTS):
            (self.folder / name).unlink(missing_ok=True)
        self._drop_deltas()
        with self._guard:
            self._partials_cache = None


def _stamp_of(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _stamp(path: Path) -> tuple[int, int, int]:
    return _stamp_of(os.stat(path))


def _applied(base: pa.Table, rows: pa.Table) -> pa.Table:
    """``base`` with the rows of ``rows``' keys replaced by (or added from) ``rows``, in key
    order."""
    gone = rows.column("patron_key")
    kept = base.filter(pc.invert(pc.is_in(base.column("patron_key"), value_set=gone)))
    merged = pa.concat_tables([kept, rows.cast(kept.schema)])
    return merged.take(pc.sort_indices(merged, [("patron_key", "ascending")]))


def _latest(overlays: Iterable[_Overlay]) -> pa.Table:
    """The newest row of each key the overlays hold."""
    latest: pa.Table | None = None
    for overlay in reversed(tuple(overlays)):
        if latest is None:
            latest = overlay.table
            continue
        older = overlay.table
        seen = pc.is_in(older.column("patron_key"), value_set=latest.column("patron_key"))
        latest = pa.concat_tables([older.filter(pc.invert(seen)), latest])
    return latest if latest is not None else FEATURE_SCHEMA.empty_table()


def _count(base_keys: pa.Array, overlays: Iterable[_Overlay]) -> int:
    keys = [base_keys, *(o.table.column("patron_key").combine_chunks() for o in overlays)]
    if len(keys) == 1:
        return len(base_keys)
    return len(pc.unique(pa.concat_arrays(keys)))


def _in_key_order(table: pa.Table) -> bool:
    keys = table.column("patron_key")
    if len(keys) < 2:
        return True
    return pc.all(pc.less(keys.slice(0, len(keys) - 1), keys.slice(1))).as_py() is True


def _overlay_name(seq: int) -> str:
    return f"profiles-overlay-{seq:06d}.arrow"


def _write_parquet(folder: Path, name: str, table: pa.Table) -> None:
    tmp = folder / layout.temp_name(name)
    pq.write_table(table, tmp, compression="lz4", row_group_size=16_384)
    layout.fsync_file(tmp)
    os.replace(tmp, folder / name)


def _write_ipc(folder: Path, name: str, table: pa.Table) -> None:
    tmp = folder / layout.temp_name(name)
    # Arrow IPC, LZ4 frames: written and read several times faster than Parquet, and only
    # ever read whole by this class.
    with pa.OSFile(str(tmp), "wb") as sink:
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=131_072)
    layout.fsync_file(tmp)
    os.replace(tmp, folder / name)


def _delta_name(seq: int, part: str) -> str:
    return f"partials-delta-{seq:06d}-{part}.arrow"


def _delta_seq(name: str) -> int:
    try:
        return int(name.split("-")[2])
    except (IndexError, ValueError):
        return 0


def _read_ipc(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:  # read into memory: the file may be replaced
        return pa.ipc.open_file(source).read_all()


def _partials_state(
    metadata: dict[bytes, bytes], key: bytes = PARTIALS_KEY
) -> PartialsState | None:
    raw = metadata.get(key)
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
