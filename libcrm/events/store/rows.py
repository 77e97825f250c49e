"""Reading a set of event files into one table and writing it back sorted by patron.

Compaction and rewrites work file by file in Arrow (bounded by the size of a file, which the
store keeps bounded) rather than through a DuckDB sort: the memory it takes is the table and its
sorted copy, known in advance, where DuckDB's sort of a month could exceed its limit without
spilling when other work shared the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from libcrm.events import schema
from libcrm.events.store.files import write_table
from libcrm.events.store.manifest import FileEntry

SORT_KEYS = [("patron_key", "ascending"), ("occurred_at", "ascending"), ("event_id", "ascending")]


def read_files(paths: Iterable[Path], key_filter: ds.Expression | None = None) -> pa.Table:
    """The rows of ``paths`` in the canonical schema (files written by any libcrm version)."""
    paths = [str(p) for p in paths]
    if not paths:
        return schema.EVENT_SCHEMA.empty_table()
    if key_filter is None:
        return pa.concat_tables(pq.read_table(p).cast(schema.EVENT_SCHEMA) for p in paths)
    dataset = ds.dataset(paths, format="parquet")
    return dataset.to_table(filter=key_filter).cast(schema.EVENT_SCHEMA)


def write_sorted(
    table: pa.Table,
    root: Path,
    relative: str,
    *,
    row_group_rows: int,
    aliases_applied: int,
    written_by: str,
) -> FileEntry:
    """``table`` sorted by (patron_key, occurred_at, event_id), as a durable new file."""
    ordered = table.sort_by(SORT_KEYS)
    return write_table(
        ordered,
        root,
        relative,
        sorted_by_patron=True,
        aliases_applied=aliases_applied,
        written_by=written_by,
        row_group_rows=row_group_rows,
        compression_level=3,
    )
