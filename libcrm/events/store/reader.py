"""Reads: a patron's timeline and activity, and store-wide counts.

A patron's rows are found without scanning the store: the manifest says which files can hold
the key (sorted files carry their key range), each sorted file's footer says which row groups
can (cached per file: files are immutable, so a cached footer never goes stale), and months are
visited newest first so a timeline usually stops after a month or two. Those row groups are
read with pyarrow directly — DuckDB costs about a millisecond per file opened, which is the
whole budget of a timeline. Unsorted files (appends not yet compacted) are scanned by DuckDB.
Store-wide counts are DuckDB aggregates over the live files, remembered per manifest
generation.
"""

from __future__ import annotations

import bisect
import threading
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events import schema
from libcrm.events.store.aliases import alias_table, check_key
from libcrm.events.store.manifest import FileEntry, Manifest, micros

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore

ACTIVITY_COLUMNS = ["patron_key", "occurred_at", "type", "channel"]
# The store's own columns (schema_version, ingested_at, batch_id) are not shown on a timeline;
# each column read costs about 0.1 ms per row group, so they are left out.
TIMELINE_COLUMNS = list(schema.INPUT_SCHEMA.names)
T = TypeVar("T")


@dataclass(frozen=True)
class TimelineCursor:
    """Where the next page starts: events strictly older than this one."""

    occurred_at: datetime
    event_id: str


@dataclass
class Timeline:
    events: list[dict[str, Any]]
    next_cursor: TimelineCursor | None


@dataclass
class PatronActivity:
    """Everything the patron page charts, from one read of the patron's events."""

    total: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    by_family: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_month: dict[str, int] = field(default_factory=dict)  # YYYY-MM in the library's zone
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    """heatmap[day][hour]: day 0 is Monday, hours in the library's time zone."""


@dataclass
class StoreOverview:
    total: int
    files: int
    bytes: int
    partitions: int
    first_at: datetime | None
    last_at: datetime | None
    by_month: dict[str, int]
    by_type: dict[str, int]
    by_channel: dict[str, int]
    by_source: dict[str, int]


def check_zone(tz: str) -> str:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc
    return tz


@dataclass
class _SortedFile:
    """An open sorted event file: the patron-key range of every row group, and the columns
    that are entirely null in each (sparse columns — space, quantity, attrs — often are, and
    each column read costs about 0.1 ms per row group, so those are not read at all)."""

    handle: pq.ParquetFile
    lows: list[str]
    highs: list[str]
    all_null: list[frozenset[str]]

    @classmethod
    def open(cls, path: str) -> _SortedFile:
        handle = pq.ParquetFile(path, read_dictionary=DICTIONARY_COLUMNS)
        meta = handle.metadata
        leaves = [meta.schema.column(i).path.split(".")[0] for i in range(meta.num_columns)]
        key = leaves.index("patron_key")
        lows, highs, all_null = [], [], []
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            stats = group.column(key).statistics
            lows.append(stats.min)
            highs.append(stats.max)
            nulls: dict[str, bool] = {}
            for i, name in enumerate(leaves):
                s = group.column(i).statistics
                empty = s is not None and s.has_null_count and s.null_count == group.num_rows
                nulls[name] = nulls.get(name, True) and empty
            all_null.append(frozenset(n for n, empty in nulls.items() if empty))
        return cls(handle, lows, highs, all_null)


class _Files:
    """Open sorted files, per thread, footers parsed once. Files are immutable (a rewrite makes
    a new file), so nothing cached here can go stale; it can only stop being asked for."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._local = threading.local()

    def get(self, path: str) -> _SortedFile:
        cache: OrderedDict[str, _SortedFile] | None = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = OrderedDict()
        item = cache.get(path)
        if item is not None:
            cache.move_to_end(path)
            return item
        item = cache[path] = _SortedFile.open(path)
        while len(cache) > self.size:
            cache.popitem(last=False)[1].handle.close()
        return item


Plan = list[tuple[str, list[tuple[FileEntry, list[str]]]]]


class Reader:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.files = _Files()
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, store.options.threads), thread_name_prefix="libcrm-events-read"
        )
        self._overview: dict[tuple[int, str], StoreOverview] = {}

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # --- one patron ------------------------------------------------------------------------

    def timeline(
        self,
        patron_key: str,
        limit: int = 50,
        before: datetime | TimelineCursor | None = None,
        types: Iterable[str] | None = None,
        channels: Iterable[str] | None = None,
    ) -> Timeline:
        """The patron's events, newest first, ``limit`` at a time; pass the returned
        ``next_cursor`` as ``before`` for the next page."""
        check_key(patron_key)
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        cursor = before if isinstance(before, TimelineCursor) else None
        before_at = before.occurred_at if isinstance(before, TimelineCursor) else before
        type_set = pa.array(sorted(set(types)), pa.string()) if types else None
        channel_set = pa.array(sorted(set(channels)), pa.string()) if channels else None

        def read(manifest: Manifest) -> tuple[str, list[pa.Table], int]:
            person = manifest.resolve(patron_key)
            found: list[pa.Table] = []
            count = 0
            # With a cursor, rows at exactly its time (and a smaller id) still qualify.
            plan = self._plan(manifest, person, before_at, None, at_before=cursor is not None)
            for table in self._read_newest_first(plan, TIMELINE_COLUMNS):
                table = _filter(table, type_set, channel_set, before_at, cursor)
                if table.num_rows:
                    found.append(table)
                    count += table.num_rows
                if count >= limit:
                    break
            return person, found, count

        person, found, _ = self._retrying(read)
        if not found:
            return Timeline([], None)
        rows = (
            pa.concat_tables(found)
            .sort_by([("occurred_at", "descending"), ("event_id", "descending")])
            .slice(0, limit)
        )
        events = rows.to_pylist()
        for event in events:
            event["patron_key"] = person
        last = events[-1]
        more = (
            TimelineCursor(last["occurred_at"], last["event_id"]) if len(events) == limit else None
        )
        return Timeline(events, more)

    def patron_activity(
        self,
        patron_key: str,
        *,
        tz: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> PatronActivity:
        """Counts by type, family, channel and local month, and the weekday × hour heatmap."""
        check_key(patron_key)
        zone = check_zone(tz)

        def read(manifest: Manifest) -> list[pa.Table]:
            plan = self._plan(manifest, manifest.resolve(patron_key), until, since)
            return [
                t
                for t in self.pool.map(self._read_month, plan, [ACTIVITY_COLUMNS] * len(plan))
                if t.num_rows
            ]

        parts = self._retrying(read)
        activity = PatronActivity()
        if not parts:
            return activity
        rows = pa.concat_tables(parts)
        if since is not None:
            rows = rows.filter(
                pc.greater_equal(rows.column("occurred_at"), pa.scalar(since, schema.TIMESTAMP))
            )
        if until is not None:
            rows = rows.filter(
                pc.less(rows.column("occurred_at"), pa.scalar(until, schema.TIMESTAMP))
            )
        if rows.num_rows == 0:
            return activity
        local = rows.column("occurred_at").cast(pa.timestamp("us", tz=zone))
        first, last = pc.min_max(rows.column("occurred_at")).values()
        activity.total = rows.num_rows
        activity.first_at, activity.last_at = first.as_py(), last.as_py()
        activity.by_type = _value_counts(rows.column("type"))
        activity.by_channel = _value_counts(rows.column("channel"))
        for name, n in activity.by_type.items():
            family = schema.EventType(name).family.value if name in schema.EVENT_TYPES else name
            activity.by_family[family] = activity.by_family.get(family, 0) + n
        months = pc.strftime(local, format="%Y-%m")
        activity.by_month = dict(sorted(_value_counts(months).items()))
        cells = pc.add(pc.multiply(pc.day_of_week(local), 24), pc.hour(local))
        for cell, n in _value_counts(cells).items():
            activity.heatmap[int(cell) // 24][int(cell) % 24] = n
        return activity

    def _retrying(self, read: Callable[[Manifest], T]) -> T:
        """Run ``read`` on the current manifest; if a compaction removed a file under it, once
        more on the new manifest (readers take no lock, so this can happen, rarely)."""
        try:
            return read(self.store.manifest)
        except (FileNotFoundError, duckdb.IOException):
            return read(self.store.manifest)

    def _plan(
        self,
        manifest: Manifest,
        person: str,
        before: datetime | None,
        since: datetime | None,
        *,
        at_before: bool = False,
    ) -> Plan:
        """The files (and keys to look for in each) that can hold the person's rows, grouped
        by month, newest month first (every row of a month is older than every row of the
        months before it in this list)."""
        keys = manifest.keys_meaning(person)
        before_us = micros(before) if before is not None else None
        since_us = micros(since) if since is not None else None
        by_month: dict[str, list[tuple[FileEntry, list[str]]]] = {}
        for entry in manifest.files.values():
            if before_us is not None and (
                entry.min_at > before_us or (entry.min_at == before_us and not at_before)
            ):
                continue
            if since_us is not None and entry.max_at < since_us:
                continue
            wanted = [
                k
                for k, version in keys.items()
                if entry.may_hold(k) and (version == 0 or entry.aliases_applied < version)
            ]
            if wanted:
                by_month.setdefault(entry.partition, []).append((entry, wanted))
        return [(p, by_month[p]) for p in sorted(by_month, reverse=True)]

    def _read_newest_first(self, plan: Plan, columns: list[str]) -> Iterator[pa.Table]:
        """Months in waves of 2, 4, then the rest, each wave read in parallel: a busy patron's
        page is usually complete after the first wave, a quiet patron's after three."""
        start, size = 0, 2
        while start < len(plan):
            wave = plan[start : start + size] if size else plan[start:]
            yield from self.pool.map(self._read_month, wave, [columns] * len(wave))
            start += len(wave)
            size = 4 if size == 2 else 0

    def _read_month(
        self, month: tuple[str, list[tuple[FileEntry, list[str]]]], columns: list[str]
    ) -> pa.Table:
        _, files = month
        target = _schema_of(columns)
        parts = [self._read_sorted(e, ks, target) for e, ks in files if e.sorted]
        unsorted = [(e, ks) for e, ks in files if not e.sorted]
        if unsorted:
            parts.append(self._scan_unsorted(unsorted, target))
        parts = [p for p in parts if p.num_rows]
        return pa.concat_tables(parts) if parts else target.empty_table()

    def _read_sorted(self, entry: FileEntry, keys: list[str], target: pa.Schema) -> pa.Table:
        file = self.files.get(str(self.store.root / entry.path))
        groups: set[int] = set()
        for key in keys:
            # Row groups are in key order: those whose range can contain the key are a run.
            groups.update(
                range(bisect.bisect_left(file.highs, key), bisect.bisect_right(file.lows, key))
            )
        if not groups:
            return target.empty_table()
        chosen = sorted(groups)
        empty = frozenset.intersection(*(file.all_null[g] for g in chosen))
        wanted = [name for name in target.names if name not in empty]
        table = file.handle.read_row_groups(chosen, columns=wanted, use_threads=False)
        table = table.filter(
            pc.is_in(table.column("patron_key"), value_set=pa.array(keys, pa.string()))
        )
        columns = [
            table.column(f.name) if f.name not in empty else pa.nulls(table.num_rows, f.type)
            for f in target
        ]
        return pa.Table.from_arrays(columns, schema=target)

    def _scan_unsorted(
        self, entries: list[tuple[FileEntry, list[str]]], target: pa.Schema
    ) -> pa.Table:
        keys = sorted({k for _, ks in entries for k in ks})
        marks = ", ".join(f"$k{i}" for i in range(len(keys)))
        params: dict[str, object] = {f"k{i}": k for i, k in enumerate(keys)}
        params["files"] = [str(self.store.root / e.path) for e, _ in entries]
        # Column names come from the schema and values travel as $placeholders.
        names = ", ".join(target.names)
        sql = (
            f"SELECT {names} FROM read_parquet($files) "  # noqa: S608
            f"WHERE patron_key IN ({marks})"
        )
        table = self.store.engine.cursor().execute(sql, params).to_arrow_table()
        return table.cast(target)

    # --- the whole store -------------------------------------------------------------------

    def overview(self, *, tz: str) -> StoreOverview:
        """Volume by month (library time zone), type, channel and source, in one scan."""
        zone = check_zone(tz)
        manifest = self.store.manifest
        cached = self._overview.get((manifest.generation, zone))
        if cached is not None:
            return cached
        files = [str(self.store.root / p) for p in sorted(manifest.files)]
        result = StoreOverview(
            total=sum(e.rows for e in manifest.files.values()),
            files=len(files),
            bytes=sum(e.bytes for e in manifest.files.values()),
            partitions=len(manifest.by_partition()),
            first_at=_from_micros(min((e.min_at for e in manifest.files.values()), default=None)),
            last_at=_from_micros(max((e.max_at for e in manifest.files.values()), default=None)),
            by_month={},
            by_type={},
            by_channel={},
            by_source={},
        )
        if files:
            sql = (
                "SELECT month, type, channel, source, count(*) AS n FROM ("
                "SELECT strftime(timezone($tz, occurred_at), '%Y-%m') AS month, type, channel, "
                "source FROM read_parquet($files)) "
                "GROUP BY GROUPING SETS ((month), (type), (channel), (source))"
            )
            table = self.store.engine.cursor().execute(sql, {"tz": zone, "files": files})
            for row in table.to_arrow_table().to_pylist():
                n = int(row["n"])
                for name, target in (
                    ("month", result.by_month),
                    ("type", result.by_type),
                    ("channel", result.by_channel),
                    ("source", result.by_source),
                ):
                    if row[name] is not None:
                        target[row[name]] = n
            result.by_month = dict(sorted(result.by_month.items()))
            for name in ("by_type", "by_channel", "by_source"):
                counts = getattr(result, name)
                setattr(result, name, dict(sorted(counts.items(), key=lambda kv: -kv[1])))
        if len(self._overview) > 16:
            self._overview.clear()
        self._overview[(manifest.generation, zone)] = result
        return result

    def relation(self, cur: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
        """All live events as a DuckDB relation, merged keys resolved: the starting point of
        analytics queries (filter, aggregate, join with the relational expressions)."""
        cur = cur or self.store.engine.cursor()
        manifest = self.store.manifest
        files = [str(self.store.root / p) for p in sorted(manifest.files)]
        if not files:
            return cur.from_arrow(schema.EVENT_SCHEMA.empty_table())
        rel = cur.read_parquet(files, union_by_name=True)
        if not manifest.aliases:
            return rel
        aliases = cur.from_arrow(alias_table(manifest))
        return (
            rel.set_alias("e")
            .join(aliases.set_alias("a"), "e.patron_key = a.old_key", "left")
            .select("e.* REPLACE (coalesce(a.new_key, e.patron_key) AS patron_key)")
        )


# Low-cardinality text columns stay dictionary-encoded from the file to the page: decoding
# them into plain strings costs more than the rest of a row-group read.
DICTIONARY_COLUMNS = ("type", "channel", "branch", "space", "subject", "source")
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _schema_of(columns: list[str]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, _DICTIONARY)
            if name in DICTIONARY_COLUMNS
            else schema.EVENT_SCHEMA.field(name)
            for name in columns
        ]
    )


def _filter(
    table: pa.Table,
    types: pa.Array | None,
    channels: pa.Array | None,
    before: datetime | None,
    cursor: TimelineCursor | None,
) -> pa.Table:
    mask = None

    def both(a: Any, b: Any) -> Any:
        return b if a is None else pc.and_(a, b)

    if types is not None:
        mask = both(mask, pc.is_in(table.column("type"), value_set=types))
    if channels is not None:
        mask = both(mask, pc.is_in(table.column("channel"), value_set=channels))
    if before is not None:
        at = table.column("occurred_at")
        limit = pa.scalar(before, schema.TIMESTAMP)
        older = pc.less(at, limit)
        if cursor is not None:
            older = pc.or_(
                older,
                pc.and_(pc.equal(at, limit), pc.less(table.column("event_id"), cursor.event_id)),
            )
        mask = both(mask, older)
    return table if mask is None else table.filter(mask)


def _value_counts(values: pa.Array | pa.ChunkedArray) -> dict[Any, int]:
    counts = pc.value_counts(values)
    return {
        v: int(n)
        for v, n in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
        if v is not None
    }


def _from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return pa.scalar(value, pa.int64()).cast(schema.TIMESTAMP).as_py()
