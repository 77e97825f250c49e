"""Running the feature expression (:mod:`libcrm.features.definitions`) on an engine.

DuckDB (the default) runs the SQL Ibis compiles from the expression on the event store's own
sandboxed connection, over the live Parquet files the manifest lists; Spark (local mode, or a
cluster) runs the same expression through Ibis's PySpark backend over the same files. Both see
the same three inputs — the events, the store's alias table (merged keys re-pointed) and the
subject → top-class table — and their results are cast to one schema. Pure: no Django.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from libcrm.events.store.aliases import alias_table
from libcrm.events.store.engine import Engine
from libcrm.events.store.ledger import BatchRecord
from libcrm.events.store.manifest import Manifest
from libcrm.features.definitions import (
    ALIAS_COLUMNS,
    BAND_COLUMNS,
    CLASS_COLUMNS,
    EVENT_COLUMNS,
    FEATURE_SCHEMA,
    SUBJECT_COLUMNS,
    FeatureParams,
    feature_expression,
    features_from_partials,
    finish,
    merge_bands,
    merge_subjects,
    partial_expressions,
    subject_classes,
)
from libcrm.features.storage import Partials

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


@dataclass(frozen=True)
class Inputs:
    """What one computation reads: the files, the alias table and the keys to compute."""

    files: list[str]
    manifest: Manifest
    stored_keys: list[str] | None  # every stored key whose rows are read (None: all)
    batch_ids: tuple[str, ...] | None = None  # only the rows these batches added (None: all)

    @property
    def aliases(self) -> pa.Table | None:
        return alias_table(self.manifest) if self.manifest.aliases else None


def inputs_for(
    store: EventStore, keys: Iterable[str] | None = None, manifest: Manifest | None = None
) -> Inputs:
    """The store's live files and, for ``keys``, every stored key that now means one of them
    (the key itself and any key merged into it)."""
    manifest = manifest or store.manifest
    files = [str(store.root / path) for path in sorted(manifest.files)]
    stored: list[str] | None = None
    if keys is not None:
        wanted: set[str] = set()
        for key in keys:
            wanted.update(manifest.keys_meaning(manifest.resolve(key)))
        stored = sorted(wanted)
    return Inputs(files, manifest, stored)


def batch_inputs(store: EventStore, manifest: Manifest, batches: Sequence[BatchRecord]) -> Inputs:
    """The rows ``batches`` added: read from the files they wrote while those are all still
    live (the usual case: a refresh follows its append), else found by batch id in every file
    (after a compaction merged them into others)."""
    ids = tuple(sorted(b.batch_id for b in batches))
    own = [e for e in manifest.files.values() if e.written_by in ids]
    if sum(e.rows for e in own) < sum(b.added for b in batches):
        own = list(manifest.files.values())
    files = [str(store.root / e.path) for e in sorted(own, key=lambda e: e.path)]
    return Inputs(files, manifest, None, ids)


def compute(
    store: EventStore,
    params: FeatureParams,
    keys: Iterable[str] | None = None,
    engine: str = "duckdb",
    memory_limit: str = "2GB",
) -> pa.Table:
    """The feature table of every patron (or of ``keys``' patrons) as of ``params.as_of``.

    On DuckDB the query runs in a database of its own, sandboxed to the store's folder like
    the store's, with ``memory_limit`` (the per-day stage of a big library holds millions of
    groups; the store's own budget is sized for timelines and appends)."""
    if engine not in ENGINES:
        raise ValueError(f"analytics engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    inputs = inputs_for(store, keys)
    if not inputs.files or inputs.stored_keys == []:
        return FEATURE_SCHEMA.empty_table()
    if engine == "spark":
        return _on_spark(inputs, params)
    return _on_duckdb(_duckdb_for(store, memory_limit), inputs, params)


def _tables(
    prefix: str, inputs: Inputs, events_name: str | None = None
) -> tuple[ir.Table, ir.Table | None, ir.Table, ir.Table | None]:
    events = ibis.table(EVENT_COLUMNS, name=events_name or f"{prefix}_events")
    aliases = ibis.table(ALIAS_COLUMNS, name=f"{prefix}_aliases") if inputs.aliases else None
    classes = ibis.table(CLASS_COLUMNS, name=f"{prefix}_classes")
    # Keys travel as a table (a semi-join): DuckDB pushes the smallest and largest key into
    # the Parquet scan, so for a few patrons only the row groups of sorted files whose key
    # range can hold them are read; and the SQL text stays the same from batch to batch.
    keyed = None
    if inputs.stored_keys is not None:
        keyed = ibis.table({"key": "string"}, name=f"{prefix}_keys")
    return events, aliases, classes, keyed


def _key_filter(keyed: ir.Table | None) -> ir.Column | None:
    return keyed.key if keyed is not None else None


def _subjects_expression(events: ir.Table, keys: Any, key_range: Any = None) -> ir.Table:
    e = events if key_range is None else events.filter(events.patron_key.between(*key_range))
    e = e if keys is None else e.filter(e.patron_key.isin(keys))
    return e.filter(e.subject.notnull()).select("subject").distinct()


# Each engine hands the expression the event columns it reads, time as UTC microseconds.
DUCKDB_COLUMNS = [
    "epoch_us(occurred_at) AS occurred_at_us" if c == "occurred_at_us" else c for c in EVENT_COLUMNS
]
SPARK_COLUMNS = [
    "unix_micros(occurred_at) AS occurred_at_us" if c == "occurred_at_us" else c
    for c in EVENT_COLUMNS
]

# --- DuckDB -----------------------------------------------------------------------------------

_engines: dict[tuple[str, str], Engine] = {}
_engines_guard = threading.Lock()


def _duckdb_for(store: EventStore, memory_limit: str) -> Engine:
    with _engines_guard:
        key = (str(store.root), memory_limit)
        found = _engines.get(key)
        if found is None:
            found = _engines[key] = Engine(
                store.root, threads=store.options.threads, memory_limit=memory_limit
            )
        return found


_sql_cache: dict[tuple[Any, ...], str] = {}
_LOW, _HIGH = "libcrm-features-key-low", "libcrm-features-key-high"


def _bounds(inputs: Inputs) -> tuple[str, str] | None:
    keys = inputs.stored_keys
    return (keys[0], keys[-1]) if keys else None


_sql_guard = threading.Lock()


_views = threading.local()


def _events_view(cur: Any, files: list[str]) -> str:
    """A view of the live files on this thread's cursor, kept until the files change
    (opening twelve Parquet files costs more than a one-patron query)."""
    known: dict[int, tuple[tuple[str, ...], str]] = getattr(_views, "known", None) or {}
    _views.known = known
    wanted = tuple(files)
    found = known.get(id(cur))
    if found is not None and found[0] == wanted:
        return found[1]
    name = f"features_events_{secrets.token_hex(4)}"
    cur.read_parquet(files, union_by_name=True).select(", ".join(DUCKDB_COLUMNS)).create_view(
        name, replace=True
    )
    if found is not None:
        cur.execute(f'DROP VIEW IF EXISTS "{found[1]}"')
    known[id(cur)] = (wanted, name)
    return name


@contextmanager
def _duckdb_inputs(
    cur: Any, inputs: Inputs
) -> Iterator[tuple[str, ir.Table, ir.Table | None, ir.Table, Any, tuple[str, str] | None]]:
    """The inputs registered on ``cur`` under fresh names: (prefix, events, aliases, classes,
    key filter, key bounds); unregistered afterwards."""
    prefix = f"features_{secrets.token_hex(4)}"
    batch_view = None
    if inputs.batch_ids is None:
        view = _events_view(cur, inputs.files)
    else:  # a batch's rows: a view of their own, dropped afterwards
        view = batch_view = f"{prefix}_batch"
        ids = ", ".join("'" + i.replace("'", "''") + "'" for i in inputs.batch_ids)
        cur.read_parquet(inputs.files, union_by_name=True).filter(f"batch_id IN ({ids})").select(
            ", ".join(DUCKDB_COLUMNS)
        ).create_view(view, replace=True)
    events, aliases, classes, keyed = _tables(prefix, inputs, view)
    registered = []
    try:
        if aliases is not None and inputs.aliases is not None:
            cur.register(aliases.get_name(), inputs.aliases)
            registered.append(aliases.get_name())
        if keyed is not None and inputs.stored_keys is not None:
            cur.register(keyed.get_name(), pa.table({"key": inputs.stored_keys}))
            registered.append(keyed.get_name())
        keys = _key_filter(keyed)
        bounds = _bounds(inputs)
        subjects_sql = ibis.to_sql(_subjects_expression(events, keys, bounds), dialect="duckdb")
        found = cur.execute(str(subjects_sql)).to_arrow_table().column("subject").to_pylist()
        cur.register(classes.get_name(), subject_classes(found))
        registered.append(classes.get_name())
        yield prefix, events, aliases, classes, keys, bounds
    finally:
        for name in registered:
            cur.unregister(name)
        if batch_view is not None:
            cur.execute(f'DROP VIEW IF EXISTS "{batch_view}"')


def _on_duckdb(db: Engine, inputs: Inputs, params: FeatureParams) -> pa.Table:
    cur = db.cursor()
    with _duckdb_inputs(cur, inputs) as (prefix, events, aliases, classes, keys, bounds):
        sql = _compiled(
            ("features", params, aliases is not None, keys is not None),
            prefix,
            events.get_name(),
            lambda marks: feature_expression(events, aliases, classes, params, keys, marks),
            keyed=keys is not None,
        )
        values = dict(zip(("kmin", "kmax"), bounds, strict=True)) if bounds else {}
        return finish(cur.execute(sql, values).to_arrow_table())


def _compiled(
    shape: tuple[Any, ...],
    prefix: str,
    events_name: str | None,
    build: Callable[[tuple[ir.Value, ir.Value] | None], ir.Table],
    keyed: bool = False,
) -> str:
    """The SQL of an expression. Compiling takes Ibis a few hundred milliseconds, more than
    an incremental refresh's query, so the text is kept per shape, with the table names as
    placeholders. ``build`` gets the key range as two marks (with keys) that are made
    $parameters of the query."""
    with _sql_guard:
        cached = _sql_cache.get(shape)
    if cached is None:
        marks = (ibis.literal(_LOW), ibis.literal(_HIGH)) if keyed else None
        cached = str(ibis.to_sql(build(marks), dialect="duckdb"))
        if events_name is not None:  # first: a batch's view is named after the prefix
            cached = cached.replace(events_name, "{events}")
        cached = cached.replace(prefix, "{prefix}")
        cached = cached.replace(f"'{_LOW}'", "$kmin").replace(f"'{_HIGH}'", "$kmax")
        with _sql_guard:
            if len(_sql_cache) > 32:
                _sql_cache.clear()
            _sql_cache[shape] = cached
    cached = cached.replace("{prefix}", prefix)
    return cached.replace("{events}", events_name) if events_name is not None else cached


# --- partials (DuckDB): what incremental refreshes merge ------------------------------------


def compute_partials(
    store: EventStore,
    params: FeatureParams,
    keys: Iterable[str] | None = None,
    *,
    batches: Sequence[BatchRecord] | None = None,
    manifest: Manifest | None = None,
    memory_limit: str = "2GB",
) -> Partials:
    """The partial aggregates (:func:`~libcrm.features.definitions.partial_expressions`) of
    every patron, of ``keys``' patrons (their whole history), or of the rows ``batches``
    added, as the store's ``manifest`` (default: the current one) has them. DuckDB only."""
    manifest = manifest or store.manifest
    if batches is not None:
        inputs = batch_inputs(store, manifest, batches)
        if keys is not None:
            raise ValueError("compute_partials: keys or batches, not both")
    else:
        inputs = inputs_for(store, keys, manifest)
    if not inputs.files or inputs.stored_keys == [] or inputs.batch_ids == ():
        return Partials.empty()
    cur = _duckdb_for(store, memory_limit).cursor()
    with _duckdb_inputs(cur, inputs) as (prefix, events, aliases, classes, keys_, bounds):
        # One pass: each band also counts its rows per top-level class (a DuckDB map), unfolded
        # into the per-class partials afterwards.
        sql = _compiled(
            ("partials", params, aliases is not None, keys_ is not None),
            prefix,
            events.get_name(),
            lambda marks: partial_expressions(
                events, aliases, classes, params, keys_, marks, fold_subjects=True
            )[0],
            keyed=keys_ is not None,
        )
        values = dict(zip(("kmin", "kmax"), bounds, strict=True)) if bounds else {}
        bands = cur.execute(sql, values).to_arrow_table()
    return Partials.of(bands.drop_columns(["classes"]), _unfold(bands))


def _unfold(bands: pa.Table) -> pa.Table:
    """Per patron and class, the uses the bands' class maps hold, summed over the blocks."""
    maps = bands.column("classes").combine_chunks()
    if isinstance(maps, pa.ChunkedArray):  # no rows: no chunk to combine
        maps = pa.array([], maps.type)
    offsets = maps.offsets.to_numpy(zero_copy_only=False)
    parents = np.repeat(np.arange(len(maps)), np.diff(offsets))
    rows = pa.table(
        {
            "patron_key": bands.column("patron_key").take(pa.array(parents, pa.int64())),
            "top_class": maps.keys,
            "uses": maps.items.cast(pa.int64()),
        }
    )
    found = rows.group_by(["patron_key", "top_class"]).aggregate([("uses", "sum")])
    return found.rename_columns({"uses_sum": "uses"})


def _on_arrow(
    store: EventStore,
    tables: dict[str, tuple[pa.Table, dict[str, str]]],
    memory_limit: str,
    shape: tuple[Any, ...],
    build: Callable[[dict[str, ir.Table]], ir.Table],
) -> pa.Table:
    """``build``'s expression run over Arrow tables (name → table and its columns)."""
    cur = _duckdb_for(store, memory_limit).cursor()
    prefix = f"features_{secrets.token_hex(4)}"
    named = {n: ibis.table(columns, name=f"{prefix}_{n}") for n, (_, columns) in tables.items()}
    for n, (table, _) in tables.items():
        cur.register(named[n].get_name(), table)
    try:
        sql = _compiled(shape, prefix, None, lambda _: build(named))
        return cur.execute(sql).to_arrow_table()
    finally:
        for t in named.values():
            cur.unregister(t.get_name())


def features_from(
    store: EventStore, partials: Partials, params: FeatureParams, memory_limit: str = "2GB"
) -> pa.Table:
    """The feature table of the patrons in ``partials`` (merged: one row per key), computed
    from the partials alone."""
    if partials.bands.num_rows == 0:
        return FEATURE_SCHEMA.empty_table()
    table = _on_arrow(
        store,
        {"bands": (partials.bands, BAND_COLUMNS), "subjects": (partials.subjects, SUBJECT_COLUMNS)},
        memory_limit,
        ("from partials", params),
        lambda t: features_from_partials(t["bands"], t["subjects"], params),
    )
    return finish(table)


def features_from_rows(
    store: EventStore,
    single: pa.Table,
    repeated: Partials,
    params: FeatureParams,
    memory_limit: str = "2GB",
) -> pa.Table:
    """The feature table of the patrons of some rows from several sets of events (stored
    partials and a batch's): ``single``, bands known to be the only row of their key and
    block, and ``repeated``, bands and class uses that may share a key and block (or class)
    and are merged in the same query — so the merge groups the blocks a batch of recent events
    adds to, not every patron's history (:meth:`~libcrm.features.storage.StoredPartials.gather`)."""
    if single.num_rows == 0 and repeated.bands.num_rows == 0:
        return FEATURE_SCHEMA.empty_table()
    table = _on_arrow(
        store,
        {
            "single": (single, BAND_COLUMNS),
            "repeated": (repeated.bands, BAND_COLUMNS),
            "subjects": (repeated.subjects, SUBJECT_COLUMNS),
        },
        memory_limit,
        ("from rows", params),
        lambda t: _rows_expression(t, params),
    )
    return finish(table)


def _rows_expression(t: dict[str, ir.Table], params: FeatureParams) -> ir.Table:
    bands = t["single"].union(merge_bands(t["repeated"]), distinct=False)
    return features_from_partials(bands, merge_subjects(t["subjects"]), params)


def prepare_rows_query(params: FeatureParams) -> None:
    """Compile (and keep) the query of :func:`features_from_rows` for ``params``: a full
    refresh does it while DuckDB runs its pass, so that the first incremental refresh after
    it finds the text ready (Ibis takes a few hundred milliseconds to compile it)."""
    prefix = f"features_{secrets.token_hex(4)}"
    named = {
        n: ibis.table(columns, name=f"{prefix}_{n}")
        for n, columns in (
            ("single", BAND_COLUMNS),
            ("repeated", BAND_COLUMNS),
            ("subjects", SUBJECT_COLUMNS),
        )
    }
    _compiled(("from rows", params), prefix, None, lambda _: _rows_expression(named, params))


def merge(
    store: EventStore, stored: Partials, new: Partials, memory_limit: str = "2GB"
) -> Partials:
    """``stored`` (one row per key) with ``new`` (one row per key, of other events) merged
    in. Only the rows whose key both have are grouped and combined (a batch adds to its
    patrons' latest block, seldom to the others); the rest are kept as they are."""
    out = []
    for part, columns, keys, combine in (
        ("bands", BAND_COLUMNS, ["patron_key", "block"], merge_bands),
        ("subjects", SUBJECT_COLUMNS, ["patron_key", "top_class"], merge_subjects),
    ):
        old, fresh = getattr(stored, part), getattr(new, part)
        if fresh.num_rows == 0 or old.num_rows == 0:
            out.append(pa.concat_tables([old, fresh]))
            continue

        def build(
            t: dict[str, ir.Table], keys: list[str] = keys, combine: Any = combine
        ) -> ir.Table:
            shared = t["old"].semi_join(t["new"], keys)
            both = shared.union(t["new"], distinct=False)
            return t["old"].anti_join(t["new"], keys).union(combine(both), distinct=False)

        out.append(
            _on_arrow(
                store,
                {"old": (old, columns), "new": (fresh, columns)},
                memory_limit,
                ("merge", part),
                build,
            )
        )
    return Partials.of(*out)


# --- Spark ------------------------------------------------------------------------------------


def _on_spark(inputs: Inputs, params: FeatureParams) -> pa.Table:
    from libcrm.linkage.engine.spark import spark_session

    session = spark_session()
    con = ibis.pyspark.connect(session)
    prefix = f"features_{secrets.token_hex(4)}"
    events, aliases, classes, keyed = _tables(prefix, inputs)
    views = [events.get_name()]
    session.read.parquet(*inputs.files).selectExpr(*SPARK_COLUMNS).createOrReplaceTempView(
        events.get_name()
    )
    try:
        if aliases is not None and inputs.aliases is not None:
            _spark_view(session, aliases.get_name(), inputs.aliases, ALIAS_COLUMNS)
            views.append(aliases.get_name())
        if keyed is not None and inputs.stored_keys is not None:
            _spark_view(
                session, keyed.get_name(), pa.table({"key": inputs.stored_keys}), {"key": "string"}
            )
            views.append(keyed.get_name())
        keys = _key_filter(keyed)
        bounds = _bounds(inputs)
        found = (
            con.to_pyarrow(_subjects_expression(events, keys, bounds)).column("subject").to_pylist()
        )
        _spark_view(session, classes.get_name(), subject_classes(found), CLASS_COLUMNS)
        views.append(classes.get_name())
        expr = feature_expression(events, aliases, classes, params, keys, bounds)
        return finish(con.to_pyarrow(expr))
    finally:
        for name in views:
            session.catalog.dropTempView(name)


def _spark_view(session: Any, name: str, table: pa.Table, columns: dict[str, str]) -> None:
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    rows = [tuple(r.values()) for r in table.to_pylist()]
    session.createDataFrame(rows, schema=ddl).createOrReplaceTempView(name)
