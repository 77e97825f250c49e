"""The event store: append-only Parquet under one folder, a ledger, and DuckDB to read it.

:class:`EventStore` is the whole public surface. Writers (append, compact, erase, retention,
rekey) take the store's lock, repair the store if the previous writer died, do their work and
publish a new manifest; readers never lock: they read the files the current manifest lists.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from libcrm.events.errors import EventStoreError, StoreCorrupt
from libcrm.events.store import aliases, compaction, layout, rewrite, writer
from libcrm.events.store import manifest as mf
from libcrm.events.store.aliases import RekeyReport
from libcrm.events.store.compaction import CompactionReport
from libcrm.events.store.engine import Engine
from libcrm.events.store.ledger import Ledger
from libcrm.events.store.reader import (
    PatronActivity,
    Reader,
    StoreOverview,
    Timeline,
    TimelineCursor,
)
from libcrm.events.store.recovery import RecoveryReport, recover
from libcrm.events.store.rewrite import RetentionRule, RewriteReport
from libcrm.events.store.writer import AppendReport, Progress

AppendInput = (
    pa.Table
    | pa.RecordBatch
    | pa.RecordBatchReader
    | Iterable[pa.RecordBatch | pa.Table]
    | Sequence[Mapping[str, Any]]
)


@dataclass(frozen=True)
class StoreOptions:
    """Tuning knobs; the defaults suit a 2-core machine with a few GB of memory."""

    threads: int = 2
    memory_limit: str = "512MB"  # DuckDB's budget (de-duplication joins, overview scans)
    batch_rows: int = 500_000  # rows per ledger batch (bounds an append's memory)
    row_group_rows: int = 2_048  # compacted files: small groups make a timeline read cheap
    compacted_file_rows: int = 4_000_000  # split a big month by patron-key range beyond this
    lock_timeout: float = 600.0


class WriteSession:
    """The state a writer works on while it holds the lock."""

    def __init__(self, store: EventStore, manifest: mf.Manifest, recovery: RecoveryReport) -> None:
        self.store = store
        self.manifest = manifest
        self.recovery = recovery

    def publish(self, manifest: mf.Manifest) -> None:
        mf.publish(self.store.root, manifest)
        self.manifest = manifest


class EventStore:
    """One event store rooted at a folder, with its ledger.

    Create one per process and keep it (the DuckDB database and the Parquet footer caches live
    in it). It is safe to use from several threads; writes from several processes queue on
    the store's lock.
    """

    def __init__(
        self, root: Path | str, ledger: Ledger, options: StoreOptions | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self.ledger = ledger
        self.options = options or StoreOptions()
        self._manifests = mf.ManifestCache(self.root)
        self._recovered = False
        self._init_root()
        self.engine = Engine(
            self.root, threads=self.options.threads, memory_limit=self.options.memory_limit
        )
        self.reader = Reader(self)
        if (self.root / layout.WRITER_MARKER).exists():
            self._recover_if_idle()

    # --- lifecycle -----------------------------------------------------------------------

    def _init_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if mf.manifest_path(self.root).exists():
            return
        with layout.exclusive_lock(self.root / layout.LOCK, self.options.lock_timeout):
            if mf.manifest_path(self.root).exists():
                return
            if any(True for _ in layout.partition_dirs(self.root)):
                raise StoreCorrupt(
                    f"{self.root} holds event partitions but no {layout.MANIFEST}; refusing to "
                    "start an empty store over them (restore the manifest from a backup)"
                )
            mf.publish(self.root, mf.Manifest(store_id=str(uuid.uuid4())))

    @property
    def manifest(self) -> mf.Manifest:
        """The current published state (cheap: a stat when nothing changed)."""
        return self._manifests.get()

    @property
    def store_id(self) -> str:
        return self.manifest.store_id

    def _recover_if_idle(self) -> None:
        """On open, repair what a dead writer left, unless a live writer holds the lock (then
        the marker is its own, and it will clean up after itself)."""
        with (
            contextlib.suppress(EventStoreError),
            self.writing("recover", force_recovery=True, timeout=0),
        ):
            pass

    def recover(self) -> RecoveryReport:
        """Repair the store after a crashed writer; safe to call any time."""
        with self.writing("recover", force_recovery=True) as session:
            return session.recovery

    @contextlib.contextmanager
    def writing(
        self, operation: str, *, force_recovery: bool = False, timeout: float | None = None
    ) -> Iterator[WriteSession]:
        """Hold the writer lock for one operation.

        Recovery runs first when the previous writer left its marker behind (it died), on this
        object's first write, or when asked. The marker is written before the operation touches
        anything and removed after it finished; if the operation fails, recovery runs at once
        so that no half-done work outlives it.
        """
        marker = self.root / layout.WRITER_MARKER
        wait = self.options.lock_timeout if timeout is None else timeout
        with layout.exclusive_lock(self.root / layout.LOCK, wait):
            manifest = mf.load(self.root)
            report = RecoveryReport()
            if force_recovery or not self._recovered or marker.exists():
                manifest, report = recover(self.root, self.ledger, manifest)
                self._recovered = True
            body = {"operation": operation, "pid": os.getpid(), "started": _now_text()}
            layout.publish_bytes(marker, json.dumps(body).encode())
            session = WriteSession(self, manifest, report)
            try:
                yield session
            except BaseException:
                with contextlib.suppress(Exception):
                    recover(self.root, self.ledger, mf.load(self.root))
                    marker.unlink(missing_ok=True)
                raise
            marker.unlink()
            layout.fsync_dir(self.root)

    def close(self) -> None:
        self.reader.close()
        self.engine.close()

    # --- writes --------------------------------------------------------------------------

    def append(
        self,
        data: AppendInput,
        *,
        source: str,
        batch_rows: int | None = None,
        now: datetime | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        max_rejects: int = 10_000,
    ) -> AppendReport:
        """Append events (an Arrow table, record batches or a reader — streamed — or dicts).

        Idempotent by ``event_id`` and crash-safe; see :mod:`libcrm.events.store.writer`.
        """
        return writer.append(
            self,
            data,
            source=source,
            batch_rows=batch_rows or self.options.batch_rows,
            now=now,
            on_progress=on_progress,
            max_rejects=max_rejects,
        )

    def compact(
        self, months: Iterable[tuple[int, int]] | None = None, *, min_files: int = 2
    ) -> CompactionReport:
        """Merge each month's files into files sorted by patron (all months, or ``months``)."""
        return compaction.compact(self, months=months, min_files=min_files)

    def erase_patron(self, patron_key: str) -> RewriteReport:
        """Remove every event of a patron, under every key merged into theirs."""
        return rewrite.erase_patron(self, patron_key)

    def apply_retention(
        self, rules: Sequence[RetentionRule], *, now: datetime | None = None
    ) -> RewriteReport:
        """Delete or anonymise events past their retention period."""
        return rewrite.apply_retention(self, rules, now=now)

    def rekey(self, old_patron_key: str, new_patron_key: str) -> RekeyReport:
        """Make ``old_patron_key``'s events belong to ``new_patron_key`` (identity merge)."""
        return aliases.rekey(self, old_patron_key, new_patron_key)

    def unalias(self, old_patron_key: str, merged_into: str) -> RekeyReport:
        """Undo :meth:`rekey`: ``old_patron_key``'s events are its own again (unmerge)."""
        return aliases.unalias(self, old_patron_key, merged_into)

    # --- reads ---------------------------------------------------------------------------

    def timeline(
        self,
        patron_key: str,
        limit: int = 50,
        before: datetime | TimelineCursor | None = None,
        types: Iterable[str] | None = None,
        channels: Iterable[str] | None = None,
    ) -> Timeline:
        """A patron's events, newest first (see :meth:`Reader.timeline`)."""
        return self.reader.timeline(
            patron_key, limit=limit, before=before, types=types, channels=channels
        )

    def patron_activity(
        self,
        patron_key: str,
        *,
        tz: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> PatronActivity:
        """Counts by type, channel and month and the weekday × hour heatmap, in ``tz``."""
        return self.reader.patron_activity(patron_key, tz=tz, since=since, until=until)

    def overview(self, *, tz: str) -> StoreOverview:
        """Volume by month (in ``tz``), type, channel and source."""
        return self.reader.overview(tz=tz)

    def relation(self) -> duckdb.DuckDBPyRelation:
        """All live events as a DuckDB relation (merged keys resolved), for analytics."""
        return self.reader.relation()

    def files(self) -> list[Path]:
        """Absolute paths of the live files (for tools that read the Parquet directly)."""
        return [self.root / path for path in sorted(self.manifest.files)]


def _now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
