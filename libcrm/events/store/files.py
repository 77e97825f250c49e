"""Writing one Parquet file of events durably, with the manifest entry that describes it."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events import schema
from libcrm.events.store import layout
from libcrm.events.store.manifest import FileEntry

# Columns whose values rarely repeat gain nothing from a dictionary and cost time to try one.
_PLAIN_COLUMNS = {"event_id", "occurred_at", "quantity", "duration_s", "ingested_at"}
DICTIONARY_COLUMNS = [name for name in schema.EVENT_SCHEMA.names if name not in _PLAIN_COLUMNS]


def to_micros(value: pa.Scalar) -> int:
    return int(value.cast(pa.int64()).as_py())


def write_table(
    table: pa.Table,
    root: Path,
    relative_path: str,
    *,
    sorted_by_patron: bool,
    aliases_applied: int,
    written_by: str,
    row_group_rows: int = 1 << 20,
    compression_level: int = 1,
) -> FileEntry:
    """Write ``table`` as ``relative_path`` under ``root``: to a hidden temporary name first,
    fsynced, then renamed. The caller fsyncs the folder once for all files of an operation."""
    final = root / relative_path
    tmp = final.with_name(layout.temp_name(final.name))
    with open(tmp, "wb") as fh:
        pq.write_table(
            table,
            fh,
            row_group_size=row_group_rows,
            compression="zstd",
            compression_level=compression_level,
            use_dictionary=DICTIONARY_COLUMNS,
            write_statistics=True,
        )
        fh.flush()
        os.fsync(fh.fileno())
    layout.rename_into_place(tmp, final)
    first, last = pc.min_max(table.column("occurred_at")).values()
    pk_min, pk_max = pc.min_max(table.column("patron_key")).values()
    return FileEntry(
        path=relative_path,
        rows=table.num_rows,
        bytes=final.stat().st_size,
        min_at=to_micros(first),
        max_at=to_micros(last),
        pk_min=pk_min.as_py(),
        pk_max=pk_max.as_py(),
        sorted=sorted_by_patron,
        aliases_applied=aliases_applied,
        written_by=written_by,
    )
