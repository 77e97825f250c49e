"""Compaction: the small files appends leave in a month become a few files sorted by patron.

Sorted by (patron_key, occurred_at, event_id) with small row groups, each file's footer says
which keys every row group holds, so one patron's timeline reads one row group per file instead
of the whole month. A big month is split into files by patron-key range (keys are uniform
HMAC output, so equal ranges hold about equal numbers of rows), so a timeline opens one file
per month, and compacting a month never holds more than one file's rows in memory.

Each partition is compacted on its own, under the writer lock: new files are written aside and
renamed, a new manifest replaces the old files by the new ones (the commit point: readers see
the old set or the new set, never both or neither), then the old files are deleted. A crash at
any point leaves either set as orphans that recovery removes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow.dataset as ds

from libcrm.events.store import layout
from libcrm.events.store.manifest import FileEntry, Manifest
from libcrm.events.store.rows import read_files, write_sorted

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore

# patron_key = "pk" + base32 (RFC 4648 alphabet, lower case); in byte order digits come first.
BASE32_SORTED = "".join(sorted("abcdefghijklmnopqrstuvwxyz234567"))


@dataclass
class CompactionReport:
    partitions: list[str] = field(default_factory=list)
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0


def needs_compaction(entries: list[FileEntry], min_files: int) -> bool:
    """Unsorted files, or sorted files from more than one compaction, are worth merging."""
    if not entries:
        return False
    if any(not e.sorted for e in entries):
        return len(entries) >= min_files or len(entries) == 1
    return len({e.written_by for e in entries}) > 1


def key_ranges(parts: int) -> list[tuple[str | None, str | None]]:
    """``parts`` contiguous [low, high) ranges of patron keys, split on the first one or two
    base32 characters; the first and last ranges are open so no key can fall outside."""
    if parts <= 1:
        return [(None, None)]
    parts = min(parts, len(BASE32_SORTED) ** 2)
    space = len(BASE32_SORTED) ** 2

    def prefix(position: int) -> str:
        return "pk" + BASE32_SORTED[position // 32] + BASE32_SORTED[position % 32]

    cuts = [prefix(i * space // parts) for i in range(1, parts)]
    lows: list[str | None] = [None, *cuts]
    highs: list[str | None] = [*cuts, None]
    return list(zip(lows, highs, strict=True))


def compact(
    store: EventStore, months: Iterable[tuple[int, int]] | None = None, *, min_files: int = 2
) -> CompactionReport:
    """Compact every partition that needs it (or only ``months``), one partition at a time so
    that appends can go on in between."""
    started = time.perf_counter()
    report = CompactionReport()
    wanted = {layout.partition_of(y, m) for y, m in months} if months is not None else None
    for partition in sorted(store.manifest.by_partition()):
        if wanted is not None and partition not in wanted:
            continue
        with store.writing("compact") as session:
            manifest = session.manifest
            entries = manifest.by_partition().get(partition, [])
            if not needs_compaction(entries, min_files):
                continue
            new = _compact_partition(store, manifest, partition, entries)
            session.publish(manifest.next(add=new, remove=[e.path for e in entries]))
            for entry in entries:
                (store.root / entry.path).unlink(missing_ok=True)
            layout.fsync_dir(store.root / partition)
        report.partitions.append(partition)
        report.files_before += len(entries)
        report.files_after += len(new)
        report.rows += sum(e.rows for e in new)
        report.bytes_before += sum(e.bytes for e in entries)
        report.bytes_after += sum(e.bytes for e in new)
    report.seconds = time.perf_counter() - started
    return report


def _compact_partition(
    store: EventStore, manifest: Manifest, partition: str, entries: list[FileEntry]
) -> list[FileEntry]:
    op_id = layout.new_operation_id("c")
    total = sum(e.rows for e in entries)
    ranges = key_ranges(math.ceil(total / store.options.compacted_file_rows))
    paths = [store.root / e.path for e in entries]
    # Aliases are *not* folded into the files: a merged patron's events keep their own key on
    # disk, so that undoing the merge (``unalias``) gives them back exactly; reads resolve them.
    aliases_applied = min(e.aliases_applied for e in entries)
    written = []
    for n, (low, high) in enumerate(ranges):
        if len(ranges) == 1:
            rows = read_files(paths)
        else:  # read only this key range
            rows = read_files(paths, _in_range(ds.field("patron_key"), low, high))
        if rows.num_rows == 0:
            continue
        written.append(
            write_sorted(
                rows,
                store.root,
                f"{partition}/{op_id}-{n}.parquet",
                row_group_rows=store.options.row_group_rows,
                aliases_applied=aliases_applied,
                written_by=op_id,
            )
        )
        del rows
    layout.fsync_dir(store.root / partition)
    return written


def _in_range(key: ds.Expression, low: str | None, high: str | None) -> ds.Expression:
    condition = ds.scalar(True)
    if low is not None:
        condition = condition & (key >= low)
    if high is not None:
        condition = condition & (key < high)
    return condition
