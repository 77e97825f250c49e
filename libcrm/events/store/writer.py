"""Appending events: streamed, validated, de-duplicated, written crash-safely, ledgered.

The input is cut into ledger batches of ``batch_rows`` rows (only one batch is in memory at a
time). For each batch:

1. its content digest is computed; a batch with the digest of a committed, reject-free batch is
   skipped at once (re-importing a file costs a hash, not a join);
2. a *pending* ledger row is committed;
3. rows are validated (rejects reported, never written), duplicates dropped — first by
   ``event_id`` within the batch, then against the store, reading only the ``event_id`` column
   of the months the batch touches;
4. each month's rows go to a new Parquet file, written aside, fsynced and renamed;
5. the ledger row is committed (the commit point) and a new manifest published.

A crash before step 5 leaves a pending row whose files recovery removes; a crash after the
ledger commit is rolled forward. Either way a re-run ends with each event exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events import schema
from libcrm.events.errors import EventSchemaError
from libcrm.events.store import layout
from libcrm.events.store.aliases import apply_aliases
from libcrm.events.store.files import write_table
from libcrm.events.store.ledger import BatchRecord, BatchState
from libcrm.events.store.manifest import FileEntry, Manifest
from libcrm.events.validation import Reject, row_numbers, validate

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore, WriteSession

Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Progress:
    """Reported after each step of each batch, for progress bars (and for the kill test)."""

    stage: str  # skipped | validated | written | committed | published
    batch_id: str
    batch_index: int
    rows_done: int  # input rows handled so far, this batch included once it is published


@dataclass
class BatchReport:
    batch_id: str
    state: BatchState
    received: int
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class AppendReport:
    """What an append did. ``rejects`` rows are indexes into the whole input stream."""

    batches: list[BatchReport] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rejects_truncated: bool = False

    @property
    def received(self) -> int:
        return sum(b.received for b in self.batches)

    @property
    def added(self) -> int:
        return sum(b.added for b in self.batches)

    @property
    def duplicates(self) -> int:
        return sum(b.duplicates for b in self.batches)

    @property
    def rejected(self) -> int:
        return sum(b.rejected for b in self.batches)

    @property
    def skipped_batches(self) -> int:
        return sum(1 for b in self.batches if b.state == BatchState.SKIPPED)


def append(
    store: EventStore,
    data: Any,
    *,
    source: str,
    batch_rows: int,
    now: datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    max_rejects: int = 10_000,
) -> AppendReport:
    """Append events given as an Arrow table, record batches (any iterable or a reader, read
    lazily) or plain dicts, on behalf of ``source`` (the ledger's name for where they came
    from; rows without a ``source`` column get it too).

    Returns counts per ledger batch and the rejected rows; raises
    :class:`~libcrm.events.errors.EventSchemaError` for a batch of the wrong shape (nothing of
    that batch is written; earlier batches stay).
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be positive")
    report = AppendReport()
    offset = 0
    for index, chunk in enumerate(_rebatch(data, batch_rows)):
        size = chunk.num_rows if isinstance(chunk, pa.Table) else len(chunk)
        batch, rejects = _append_batch(
            store, chunk, source, index, offset, now, on_progress, max_rejects - len(report.rejects)
        )
        report.batches.append(batch)
        room = max_rejects - len(report.rejects)
        report.rejects.extend(
            Reject(r.row + offset, r.field, r.reason, r.value) for r in rejects[:room]
        )
        report.rejects_truncated |= batch.rejected > 0 and len(rejects) > room
        offset += size
    return report


def _rebatch(data: Any, batch_rows: int) -> Iterator[pa.Table | Rows]:
    """Cut any input into ledger batches of exactly ``batch_rows`` rows (the last may be
    shorter), whatever the sizes of the incoming record batches, so that the same input always
    gives the same batches and the same digests."""
    if _is_rows(data):
        for start in range(0, len(data), batch_rows):
            yield data[start : start + batch_rows]
        return
    if isinstance(data, pa.Table | pa.RecordBatch):
        data = data.to_batches(max_chunksize=batch_rows)
    pending: list[pa.RecordBatch] = []
    held = 0
    for item in data:
        pieces = item.to_batches() if isinstance(item, pa.Table) else [item]
        for piece in pieces:
            while piece.num_rows:
                take = min(piece.num_rows, batch_rows - held)
                pending.append(piece.slice(0, take))
                held += take
                piece = piece.slice(take)
                if held == batch_rows:
                    yield _contiguous(pending)
                    pending, held = [], 0
    if held:
        yield _contiguous(pending)


def _contiguous(batches: list[pa.RecordBatch]) -> pa.Table:
    """The batches as one table, without copying (the chunks stay as they came: every later
    step takes chunked columns, and combining would cost more than validating)."""
    return pa.Table.from_batches(batches)


def _is_rows(data: Any) -> bool:
    """Plain dicts come as a list; anything else is Arrow (a table, batches, a reader)."""
    if not isinstance(data, Sequence) or isinstance(data, pa.Table | pa.RecordBatch):
        return False
    return not data or not isinstance(data[0], pa.Table | pa.RecordBatch)


def _append_batch(
    store: EventStore,
    chunk: pa.Table | Rows,
    source: str,
    index: int,
    offset: int,
    now: datetime | None,
    on_progress: Callable[[Progress], None] | None,
    max_rejects: int,
) -> tuple[BatchReport, list[Reject]]:
    received = chunk.num_rows if isinstance(chunk, pa.Table) else len(chunk)
    chunk = _with_source(chunk, source)
    digest = content_digest(chunk, source)
    ledger = store.ledger
    started = datetime.now(UTC)

    def progress(stage: str, batch_id: str, done: int) -> None:
        if on_progress is not None:
            on_progress(Progress(stage, batch_id, index, done))

    with store.writing("append") as session:
        store_id = session.manifest.store_id
        if ledger.find_committed(store_id, digest) is not None:
            record = BatchRecord(
                batch_id=layout.new_operation_id("s"),
                store_id=store_id,
                source=source,
                digest=digest,
                state=BatchState.SKIPPED,
                received=received,
                duplicates=received,
                started_at=started,
                finished_at=datetime.now(UTC),
                note="same content as a committed batch",
            )
            ledger.skip(record)
            progress("skipped", record.batch_id, offset + received)
            return BatchReport(
                record.batch_id, BatchState.SKIPPED, received, duplicates=received
            ), []

        record = BatchRecord(
            batch_id=layout.new_operation_id("b"),
            store_id=store_id,
            source=source,
            digest=digest,
            received=received,
            started_at=started,
        )
        ledger.begin(record)
        result = validate(chunk, now=now, max_rejects=max(max_rejects, 0))
        progress("validated", record.batch_id, offset)
        rows = apply_aliases(result.accepted, session.manifest)
        months = month_keys(rows.column("occurred_at"))
        fresh, months = _new_rows(store, session.manifest, rows, months)
        entries = _write_months(store, session, fresh, months, record.batch_id)
        progress("written", record.batch_id, offset)

        record.state = BatchState.COMMITTED
        record.added = fresh.num_rows
        record.rejected = result.rejected_rows
        record.duplicates = result.accepted.num_rows - fresh.num_rows
        record.files = [e.to_json() for e in entries]
        record.seq = session.manifest.batch_seq + 1
        record.finished_at = datetime.now(UTC)
        ledger.commit(record)
        progress("committed", record.batch_id, offset)
        session.publish(session.manifest.next(add=entries, batch_seq=record.seq))
        progress("published", record.batch_id, offset + received)
    batch = BatchReport(
        record.batch_id,
        BatchState.COMMITTED,
        received,
        added=record.added,
        duplicates=record.duplicates,
        rejected=record.rejected,
        files=[e.path for e in entries],
    )
    return batch, result.rejects


def _with_source(chunk: pa.Table | Rows, source: str) -> pa.Table | Rows:
    if isinstance(chunk, pa.Table):
        if "source" in chunk.column_names:
            return chunk
        return chunk.append_column("source", pa.repeat(pa.scalar(source), chunk.num_rows))
    return [
        {**row, "source": source} if isinstance(row, Mapping) and "source" not in row else row
        for row in chunk
    ]


DIGEST_COLUMNS = ("event_id", "occurred_at")


def content_digest(chunk: pa.Table | Rows, source: str) -> str:
    """SHA-256 of the batch's ``event_id`` and ``occurred_at`` columns as given (Arrow IPC
    stream, or JSON for dicts), with the source and the schema version.

    That is all the fast path needs: a batch is only skipped when a *reject-free* batch with
    the same digest was committed, so every one of its ids is already stored in the month of
    its time, and the event-level path would drop every row as a duplicate too (the first
    write of an id wins). Hashing two columns instead of thirteen keeps the digest a small
    part of an append.
    """
    h = hashlib.sha256(f"libcrm-events/{schema.SCHEMA_VERSION}\x1f{source}\x1f".encode())
    if isinstance(chunk, pa.Table):
        present = [name for name in DIGEST_COLUMNS if name in chunk.column_names]
        part = chunk.select(present)
        sink = _HashSink(h)
        with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), part.schema) as writer:
            writer.write_table(part)
    else:
        for row in chunk:
            picked = {k: row.get(k) for k in DIGEST_COLUMNS} if isinstance(row, Mapping) else row
            h.update(json.dumps(picked, default=str, ensure_ascii=False).encode())
            h.update(b"\n")
    return h.hexdigest()


class _HashSink:
    """A write-only file object that feeds a hash (no copy of the serialised batch is kept)."""

    closed = False

    def __init__(self, h: Any) -> None:
        self.h = h

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.h.update(view)
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def month_keys(occurred_at: pa.Array | pa.ChunkedArray) -> pa.Array:
    """year * 100 + month of each UTC timestamp (the partition of each row)."""
    return pc.add(pc.multiply(pc.year(occurred_at), 100), pc.month(occurred_at))


def _new_rows(
    store: EventStore, manifest: Manifest, rows: pa.Table, months: pa.ChunkedArray
) -> tuple[pa.Table, pa.ChunkedArray]:
    """The rows to add (and their month keys): the first row of each ``event_id``, minus ids
    already stored in the months the batch touches — only those partitions' ``event_id``
    column is read. Ids are unique per month partition; see docs/events.md."""
    if rows.num_rows == 0:
        return rows, months
    touched = {int(m) for m in pc.unique(months).to_pylist()}
    files = [
        str(store.root / e.path)
        for e in manifest.files.values()
        if e.month[0] * 100 + e.month[1] in touched
    ]
    keys = pa.table({"rn": row_numbers(rows.num_rows), "event_id": rows.column("event_id")})
    cur = store.engine.cursor()
    cur.register("batch_keys", keys)
    try:
        keep = _surviving_rows(cur, files, rows.num_rows)
    finally:
        cur.unregister("batch_keys")
    if keep is None:
        return rows, months
    return rows.take(keep), months.take(keep)


# Each step is cheaper than the one after it and usually ends the work: distinct 64-bit hashes
# prove the ids distinct (equal hashes only send the batch to the exact GROUP BY); a semi-join
# count of zero proves nothing is stored yet, without sorting or listing surviving rows.
_HASHES_DISTINCT = "SELECT count(DISTINCT hash(event_id)) = count(*) FROM batch_keys"
_FIRSTS = "SELECT event_id, min(rn) AS rn FROM batch_keys GROUP BY event_id"
_ANY_STORED = (
    "SELECT count(*) FROM batch_keys SEMI JOIN "
    "(SELECT event_id FROM read_parquet($files)) s USING (event_id)"
)
_UNSTORED_FIRSTS = (
    "SELECT f.rn FROM (SELECT event_id, min(rn) AS rn FROM batch_keys GROUP BY event_id) f "
    "ANTI JOIN (SELECT event_id FROM read_parquet($files)) s USING (event_id)"
)
_UNSTORED = (
    "SELECT rn FROM batch_keys ANTI JOIN "
    "(SELECT event_id FROM read_parquet($files)) s USING (event_id)"
)


def _surviving_rows(cur: duckdb.DuckDBPyConnection, files: list[str], n: int) -> pa.Array | None:
    """Row numbers to keep, in order, or ``None`` to keep every row."""
    distinct = bool(cur.execute(_HASHES_DISTINCT).fetchone()[0])  # type: ignore[index]
    if distinct and (not files or not cur.execute(_ANY_STORED, {"files": files}).fetchone()[0]):  # type: ignore[index]
        return None
    if files:
        sql = _UNSTORED if distinct else _UNSTORED_FIRSTS
        keep = cur.execute(f"{sql} ORDER BY rn", {"files": files})
    else:
        keep = cur.execute(f"{_FIRSTS} ORDER BY rn")
    column = keep.to_arrow_table().column("rn")
    return None if len(column) == n else column.combine_chunks()


def _write_months(
    store: EventStore,
    session: WriteSession,
    rows: pa.Table,
    months: pa.ChunkedArray,
    batch_id: str,
) -> list[FileEntry]:
    """One file per month the rows fall in, written in parallel (pyarrow releases the GIL)."""
    if rows.num_rows == 0:
        return []
    rows = _stamped(rows, batch_id)
    keys = months
    distinct = sorted(int(k) for k in pc.unique(keys).to_pylist())
    aliases_applied = session.manifest.alias_version

    def write(job: tuple[int, int]) -> FileEntry:
        n, key = job
        # Each worker cuts its own month out (a filter copies only that month's rows), so
        # the split runs in parallel with the writing instead of before it.
        part = rows if len(distinct) == 1 else rows.filter(pc.equal(keys, key))
        folder = layout.partition_of(key // 100, key % 100)
        return write_table(
            part,
            store.root,
            f"{folder}/{batch_id}-{n}.parquet",
            sorted_by_patron=False,
            aliases_applied=aliases_applied,
            written_by=batch_id,
        )

    for key in distinct:
        layout.make_dirs(store.root, layout.partition_of(key // 100, key % 100))
    with ThreadPoolExecutor(max_workers=max(1, store.options.threads)) as pool:
        entries = list(pool.map(write, enumerate(distinct)))
    for folder in {e.partition for e in entries}:
        layout.fsync_dir(store.root / folder)
    return entries


def _stamped(rows: pa.Table, batch_id: str) -> pa.Table:
    n = rows.num_rows
    now = pa.scalar(datetime.now(UTC), schema.TIMESTAMP)
    extra = {
        "schema_version": pa.repeat(pa.scalar(schema.SCHEMA_VERSION, pa.int16()), n),
        "ingested_at": pa.repeat(now, n),
        "batch_id": pa.repeat(pa.scalar(batch_id), n),
    }
    columns = [rows.column(name) for name in schema.INPUT_SCHEMA.names]
    columns += [extra[f.name] for f in schema.STORE_FIELDS]
    try:
        return pa.Table.from_arrays(columns, schema=schema.EVENT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # validation guarantees the shape
        raise EventSchemaError(f"rows do not match the event schema: {exc}") from exc
