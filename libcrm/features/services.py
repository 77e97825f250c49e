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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from libcrm.events.services import event_store
from libcrm.events.store import AppendReport, EventStore
from libcrm.events.store.aliases import check_key
from libcrm.features import engine
from libcrm.features.definitions import FEATURE_SCHEMA, FeatureParams
from libcrm.features.storage import FeatureFile, Provenance

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


def feature_params(store: EventStore, as_of: date | None = None) -> FeatureParams:
    files = store.manifest.files.values()
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


def _provenance(store: EventStore, as_of: date, engine_name: str, full: bool) -> Provenance:
    m = store.manifest
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


def refresh_features(*, as_of: date | None = None, engine_name: str | None = None) -> RefreshReport:
    """Recompute every patron's features (one query over the whole store) and replace the
    table. Run daily: windows end on ``as_of`` (today), so a patron without new events keeps
    yesterday's window counts until this runs."""
    started = time.perf_counter()
    chosen = _engine(engine_name)
    store = event_store()
    params = feature_params(store, as_of)
    target = feature_file()
    with target.writing():
        provenance = _provenance(store, params.as_of, chosen, full=True)
        table = engine.compute(
            store, params, engine=chosen, memory_limit=settings.LIBCRM_ANALYTICS_MEMORY
        )
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
    another is computed as the key it now means."""
    started = time.perf_counter()
    chosen = _engine(engine_name)
    keys = sorted({check_key(k) for k in patron_keys})
    gone = sorted({check_key(k) for k in drop})
    store = event_store()
    params = feature_params(store, as_of)
    target = feature_file()
    with target.writing():
        _, previous = target.read()
        provenance = _provenance(store, params.as_of, chosen, full=False)
        if previous is not None:  # the table's as-of stays that of its last full refresh
            provenance = replace(provenance, as_of=previous.as_of)
        rows = (
            engine.compute(
                store, params, keys, engine=chosen, memory_limit=settings.LIBCRM_ANALYTICS_MEMORY
            )
            if keys
            else None
        )
        rows = rows if rows is not None else FEATURE_SCHEMA.empty_table()
        # A key whose events are all gone (or merged away) leaves no row: drop its old one.
        vanished = set(keys) - set(rows.column("patron_key").to_pylist())
        table = target.merge(rows, [*gone, *vanished], provenance)
    return RefreshReport(
        False, params.as_of, chosen, rows.num_rows, table.num_rows, time.perf_counter() - started
    )


def drop_patron_features(patron_key: str) -> bool:
    """Remove a patron's row (after erasure); True if there was one."""
    check_key(patron_key)
    target = feature_file()
    with target.writing():
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
    _, provenance = feature_file().read()
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
