"""The ingestion pipeline: connector chunks → validate → resolve identity → pseudonymise →
append to the event store. Streaming: one Arrow batch at a time, rejects written as they come.

The event store never sees an identifier: the identifier columns and the source line number are
dropped once a row has its patron key; line numbers are kept aside only to name the line of a
row the store's own validation refuses.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events.connectors import Chunk
from libcrm.events.schema import INPUT_SCHEMA
from libcrm.events.services import append_events
from libcrm.ingest.identity import IdentityResolver

REJECT_COLUMNS = ("file", "line", "field", "reason")


class RejectReport:
    """The CSV a librarian downloads: one line per refused row (or file-level problem)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._handle: TextIO = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(REJECT_COLUMNS)
        self.count = 0
        self.first: list[tuple[str, int, str, str]] = []

    def add(self, file: str, line: int, field_name: str, reason: str) -> None:
        self._writer.writerow((file, line, field_name, reason))
        self.count += 1
        if len(self.first) < 100:
            self.first.append((file, line, field_name, reason))

    def close(self) -> None:
        self._handle.close()


@dataclass
class PipelineResult:
    received: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    provisional: int = 0
    batch_ids: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _input_table(batch: pa.RecordBatch, keys: pa.Array) -> pa.Table:
    columns = {
        "event_id": batch.column("event_id"),
        "patron_key": keys,
        "occurred_at": batch.column("occurred_at"),
        "type": batch.column("type"),
        "channel": batch.column("channel"),
        "branch": batch.column("branch"),
        "space": batch.column("space"),
        "item_id": batch.column("item_id"),
        "subject": batch.column("subject"),
        "quantity": pc.cast(batch.column("quantity"), pa.float64()),
        "duration_s": pc.cast(batch.column("duration_s"), pa.int32()),
        "source": batch.column("source"),
        "attrs": batch.column("attrs"),
    }
    return pa.table(
        [columns[f.name].cast(f.type) for f in INPUT_SCHEMA], schema=INPUT_SCHEMA.remove_metadata()
    )


def run_pipeline(
    chunks: Iterable[Chunk],
    *,
    resolver: IdentityResolver,
    source: str,
    file_name: str,
    rejects: RejectReport,
    on_rows: Callable[[int], None] | None = None,
) -> PipelineResult:
    result = PipelineResult()
    lines_kept: list[pa.Array] = []
    failed_before_store = 0

    def tables() -> Iterator[pa.Table]:
        nonlocal failed_before_store
        for chunk in chunks:
            for reject in chunk.rejects:
                rejects.add(reject.file or file_name, reject.line, reject.field, reject.reason)
                failed_before_store += 1
            result.notices.extend(str(n) for n in chunk.notices)
            batch = chunk.batch
            if batch is None or batch.num_rows == 0:
                continue
            if on_rows is not None:
                on_rows(batch.num_rows)
            keys, problems = resolver.resolve(batch)
            if problems:
                lines = batch.column("line").to_pylist()
                for problem in problems:
                    rejects.add(file_name, lines[problem.row], problem.field, problem.reason)
                failed_before_store += len(problems)
                keep = pc.is_valid(keys)
                batch, keys = batch.filter(keep), keys.filter(keep)
            if batch.num_rows:
                lines_kept.append(batch.column("line"))
                yield _input_table(batch, keys)

    report = append_events(tables(), source=source)
    if report.rejects:
        lines = pa.concat_arrays(lines_kept) if lines_kept else pa.array([], pa.int64())
        for problem in report.rejects:
            line = lines[problem.row].as_py() if problem.row < len(lines) else 0
            rejects.add(file_name, line, problem.field, problem.reason)
    result.received = report.received + failed_before_store
    result.added = report.added
    result.duplicates = report.duplicates
    result.rejected = report.rejected + failed_before_store
    result.provisional = resolver.provisional_created
    result.batch_ids = [b.batch_id for b in report.batches]
    return result
