"""Writes to this installation's feature table: full and incremental refreshes, and the
privacy follow-ups (an erased patron's row dropped, a merged patron's recomputed).

The table lives in ``settings.LIBCRM_FEATURES_DIR``; it is derived data, keyed by the
pseudonymous ``patron_key`` only, and can always be rebuilt from the event store with
``libcrm features refresh --full``.
"""

from __future__ import annotations

import logging
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from libcrm.events.services import event_store
from libcrm.events.store import AppendReport, EventStore
from libcrm.events.store.aliases import check_key
from libcrm.events.store.manifest import Manifest
from libcrm.features import engine, storage
from libcrm.features.definitions import FEATURE_SCHEMA, FeatureParams
from libcrm.features.storage import (
    FeatureFile,
    Partials,
    PartialsState,
    Provenance,
    StoredPartials,
)

log = logging.getLogger(__name__)
_files: dict[Path, FeatureFile] = {}
_guard = threading.Lock()


class FeatureError(ValueError):
    """A refresh asked for something that cannot be computed (bad engine, bad key)."""


@dataclass(frozen=True)
class RefreshReport:
    full: bool
    as_of: date
    engine: str
    patrons: int  # rows computed by this refresh
    table_rows: int  # rows in the table afterwards
    seconds: float


def feature_file() -> FeatureFile:
    folder = Path(settings.LIBCRM_FEATURES_DIR).resolve()
    with _guard:
        found = _files.get(folder)
        if found is None:
            found = _files[folder] = FeatureFile(folder)
        return found


def library_today() -> date:
    return datetime.now(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()


def feature_params(
    store: EventStore, as_of: date | None = None, manifest: Manifest | None = None
) -> FeatureParams:
    files = (manifest or store.manifest).files.values()
    first = min((e.min_at for e in files), default=0)
    return FeatureParams(
        as_of=as_of or library_today(),
        tz=settings.TIME_ZONE,
        data_start=datetime.fromtimestamp(first / 1_000_000, UTC),
        spaces_24h=tuple(settings.LIBCRM_24H_BRANCHES),
    )


def _engine(name: str | None) -> str:
    chosen = name or settings.LIBCRM_ANALYTICS_ENGINE
    if chosen not in engine.ENGINES:
        raise FeatureError(
            f"LIBCRM_ANALYTICS_ENGINE: {chosen!r} is not an analytics engine "
            f"(choose {' or '.join(engine.ENGINES)})"
        )
    return chosen


def _provenance(m: Manifest, as_of: date, engine_name: str, full: bool) -> Provenance:
    return Provenance(
        as_of=as_of.isoformat(),
        tz=settings.TIME_ZONE,
        engine=engine_name,
        store_id=m.store_id,
        generation=m.generation,
        batch_seq=m.batch_seq,
        alias_version=m.alias_version,
        computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        full=full,
    )


def _partials_state(m: Manifest, params: FeatureParams) -> PartialsState:
    return PartialsState(
        as_of=params.as_of.isoformat(),
        tz=params.tz,
        spaces_24h=params.spaces_24h,
        store_id=m.store_id,
        batch_seq=m.batch_seq,
        alias_version=m.alias_version,
    )


def _memory() -> str:
    return settings.LIBCRM_ANALYTICS_MEMORY


def refresh_features(*, as_of: date | None = None, engine_name: str | None = None) -> RefreshReport:
    """Recompute every patron's features (one pass over the whole store) and replace the
    table. Run daily: windows end on ``as_of`` (today), so a patron without new events keeps
    yesterday's window counts until this runs.

    On DuckDB the pass keeps its per-patron partial aggregates beside the table, so that the
    refreshes after an append (same as-of date) merge the new batch into them instead of
    re-reading the patrons' history; on Spark the table alone is written (and incremental
    refreshes recompute the patrons they touch)."""
    started = time.perf_counter()
    chosen = _engine(engine_name)
    store = event_store()
    target = feature_file()
    with target.writing():
        m = store.manifest
        params = feature_params(store, as_of, m)
        provenance = _provenance(m, params.as_of, chosen, full=True)
        if chosen == "duckdb":
            # Ibis compiles the incremental refreshes' query while DuckDB runs the pass.
            ready = threading.Thread(target=engine.prepare_rows_query, args=(params,))
            ready.start()
            try:
                partials = engine.compute_partials(
                    store, params, manifest=m, memory_limit=_memory()
                )
            finally:
                ready.join()
            table = engine.features_from(store, partials, params, _memory())
            target.replace(table, provenance)
            target.replace_partials(partials, _partials_state(m, params))
        else:
            table = engine.compute(store, params, engine=chosen, memory_limit=_memory())
            target.drop_partials()
            target.replace(table, provenance)
    return RefreshReport(
        True, params.as_of, chosen, table.num_rows, table.num_rows, time.perf_counter() - started
    )


def refresh_patron_features(
    patron_keys: Iterable[str],
    *,
    as_of: date | None = None,
    engine_name: str | None = None,
    drop: Iterable[str] = (),
) -> RefreshReport:
    """Recompute the features of ``patron_keys`` (their whole history: windows and shares
    need it) and merge them into the table; rows of ``drop`` are removed. A key merged into
    another is computed as the key it now means. Where partials are kept (see
    :func:`refresh_features`), the batches appended since they were written are merged in
    first, and their patrons' rows refreshed too."""
    keys = sorted({check_key(k) for k in patron_keys})
    gone = sorted({check_key(k) for k in drop})
    return _refresh(keys, gone, as_of, engine_name, lambda store, m: [])


def refresh_appended_features(
    report: AppendReport | None = None,
    *,
    as_of: date | None = None,
    engine_name: str | None = None,
) -> RefreshReport:
    """Bring the table up to date with the events appended since it was written (after the
    append of ``report``, or any others): where partials are kept, only the new batches' rows
    are read, aggregated and merged into their patrons' partials (a cost proportional to the
    batch); otherwise the patrons of ``report`` (or of every batch the table has not seen)
    are recomputed over their whole history."""

    def fallback(store: EventStore, m: Manifest) -> list[str]:
        if report is not None:
            return appended_patron_keys(store, report)
        return patrons_with_new_events() or []

    return _refresh([], [], as_of, engine_name, fallback)


def _usable(
    found: StoredPartials | None, m: Manifest, params: FeatureParams, chosen: str
) -> StoredPartials | None:
    if found is None or chosen != "duckdb":
        return None
    state = found.state
    same = (state.as_of, state.tz, state.spaces_24h, state.store_id) == (
        params.as_of.isoformat(),
        params.tz,
        params.spaces_24h,
        m.store_id,
    )
    return found if same and state.batch_seq <= m.batch_seq else None


def stored_partials() -> Partials | None:
    """The stored partials with their deltas merged in (one row per key), or None."""
    found = feature_file().read_partials()
    return None if found is None else _combined(event_store(), found)


def _combined(store: EventStore, found: StoredPartials) -> Partials:
    if found.deltas.bands.num_rows == 0 and found.deltas.subjects.num_rows == 0:
        return found.base
    return engine.merge(store, found.base, found.deltas, _memory())


def _refresh(
    keys: list[str],
    gone: list[str],
    as_of: date | None,
    engine_name: str | None,
    fallback: Callable[[EventStore, Manifest], list[str]],
) -> RefreshReport:
    started = time.perf_counter()
    chosen = _engine(engine_name)
    store = event_store()
    target = feature_file()
    with target.writing():
        m = store.manifest
        params = feature_params(store, as_of, m)
        previous = target.read_provenance()
        provenance = _provenance(m, params.as_of, chosen, full=False)
        if previous is not None:  # the table's as-of stays that of its last full refresh
            provenance = replace(provenance, as_of=previous.as_of)
        found = _usable(target.read_partials(), m, params, chosen)
        if found is None:
            keys = sorted({*keys, *fallback(store, m)})
            rows = (
                engine.compute(store, params, keys, engine=chosen, memory_limit=_memory())
                if keys
                else FEATURE_SCHEMA.empty_table()
            )
            # Partials of another as-of date (or engine) can no longer be kept in step.
            target.drop_partials()
            changed = set(keys)
            write_partials: Callable[[], None] | None = None
        else:
            state = found.state
            if (
                not keys
                and not gone
                and (state.batch_seq, state.alias_version) == (m.batch_seq, m.alias_version)
                and previous is not None
                and previous.batch_seq == m.batch_seq
            ):  # nothing new: another refresh took these batches in already
                seconds = time.perf_counter() - started
                return RefreshReport(False, params.as_of, chosen, 0, target.row_count(), seconds)
            rows, write_partials, changed = _merged(store, m, params, found, keys, gone)
        # A key whose events are all gone (or merged away) leaves no row: drop its old one.
        vanished = changed - set(rows.column("patron_key").to_pylist())
        # The table first: should the partials' write not happen, the next refresh takes the
        # same batches in again and recomputes the same rows.
        count = target.merge(rows, [*gone, *vanished], provenance)
        if write_partials is not None:
            write_partials()
    return RefreshReport(
        False, params.as_of, chosen, rows.num_rows, count, time.perf_counter() - started
    )


def _merged(
    store: EventStore,
    m: Manifest,
    params: FeatureParams,
    found: StoredPartials,
    keys: list[str],
    gone: list[str],
) -> tuple[pa.Table, Callable[[], None], set[str]]:
    """The new rows, how to write the partials brought up to ``m``, and the keys whose rows
    may have changed: the batches after the partials' ledger position aggregated alone;
    ``keys`` (and the keys of merges since the partials' alias version) recomputed over their
    history; ``gone`` removed.

    When only batches arrived (the usual case: a refresh after an append), the batch's
    partials are stored as a delta after the others and the touched patrons' features come
    from their stored rows and the batch's, merged in the query; nothing else is rewritten
    until the deltas outgrow :data:`storage.PARTIALS_FOLD` times the base."""
    state = found.state
    target = feature_file()
    batches = [
        b
        for b in store.ledger.committed_since(m.store_id, state.batch_seq)
        if b.added and b.seq is not None and b.seq <= m.batch_seq
    ]
    if m.alias_version != state.alias_version:  # merges no receiver has followed up yet
        for old, alias in m.aliases.items():
            if alias.version > state.alias_version:
                keys = [*keys, old, alias.to]
    history_keys = sorted({m.resolve(k) for k in keys})
    batch = (
        engine.compute_partials(store, params, batches=batches, manifest=m, memory_limit=_memory())
        if batches
        else Partials.empty()
    )
    new_state = _partials_state(m, params)
    if not keys and not gone:
        touched = batch.patron_keys()
        single, repeated = found.gather(batch, touched)
        rows = engine.features_from_rows(store, single, repeated, params, _memory())
        base_rows = found.base.bands.num_rows
        if found.deltas.bands.num_rows + batch.bands.num_rows <= storage.PARTIALS_FOLD * max(
            base_rows, storage.FOLD_MINIMUM
        ):

            def append() -> None:
                target.append_partials(batch, new_state)

            return rows, append, touched

        def fold() -> None:
            merged = engine.merge(store, found.base, found.deltas.plus(batch), _memory())
            target.replace_partials(merged, new_state)

        return rows, fold, touched

    partials = _combined(store, found)
    fresh = set(history_keys) | set(gone) | set(keys)
    touched = batch.patron_keys() - fresh
    if fresh:
        batch = batch.only(touched)
    changed = touched | fresh
    chosen, kept = partials.split(changed)
    updated = engine.merge(store, chosen.without(fresh) if fresh else chosen, batch, _memory())
    if history_keys:
        history = engine.compute_partials(
            store, params, history_keys, manifest=m, memory_limit=_memory()
        )
        updated = updated.plus(history.without(gone))
    rows = engine.features_from(store, updated, params, _memory())

    def rewrite() -> None:
        target.replace_partials(kept.plus(updated), new_state)

    return rows, rewrite, changed


def drop_patron_features(patron_key: str) -> bool:
    """Remove a patron's row (after erasure); True if there was one."""
    check_key(patron_key)
    target = feature_file()
    with target.writing():
        found = target.read_partials()
        if found is not None:  # deltas folded in: no file keeps the patron's rows
            partials = _combined(event_store(), found).without([patron_key])
            target.replace_partials(partials, found.state)
        current, provenance = target.read()
        if provenance is None or patron_key not in set(current.column("patron_key").to_pylist()):
            return False
        target.merge(FEATURE_SCHEMA.empty_table(), [patron_key], provenance)
    return True


def appended_patron_keys(store: EventStore, report: AppendReport) -> list[str]:
    """The patron keys of the rows an append added, read from the files it wrote (their
    keys already re-pointed through the aliases)."""
    paths = [store.root / path for batch in report.batches for path in batch.files]
    keys: set[str] = set()
    missing = []
    for path in paths:
        try:
            column = pq.read_table(path, columns=["patron_key"]).column("patron_key")
        except FileNotFoundError:  # compacted away meanwhile: find the rows by batch id
            missing.append(path)
            continue
        keys.update(pc.unique(column).to_pylist())
    if missing:
        keys.update(_keys_of_batches(store, [b.batch_id for b in report.batches if b.files]))
    return sorted(keys)


def _keys_of_batches(store: EventStore, batch_ids: list[str]) -> set[str]:
    """Patron keys (aliases resolved) of the rows those ledger batches added."""
    if not batch_ids:
        return set()
    wanted = duckdb.ColumnExpression("batch_id").isin(
        *(duckdb.ConstantExpression(b) for b in batch_ids)
    )
    found = store.relation().filter(wanted).select("patron_key").distinct().to_arrow_table()
    return set(found.column("patron_key").to_pylist())


def patrons_with_new_events() -> list[str] | None:
    """Keys of patrons with events the table has not seen (batches committed after its ledger
    position, or merges after its alias version); None when the table was never computed or
    belongs to another store — then only a full refresh will do."""
    provenance = feature_file().read_provenance()
    store = event_store()
    manifest = store.manifest
    if provenance is None or provenance.store_id != manifest.store_id:
        return None
    batches = store.ledger.committed_since(manifest.store_id, provenance.batch_seq)
    keys = _keys_of_batches(store, [b.batch_id for b in batches if b.added])
    keys.update(
        alias.to for alias in manifest.aliases.values() if alias.version > provenance.alias_version
    )
    return sorted(keys)
