"""Erasure and retention: rewrite only the files that hold affected rows, all at once.

Each affected file is copied without the erased rows (or with their patron key replaced by the
anonymous key) to a new file; one manifest publish swaps all of them (the commit point), then
the old files are deleted, so no byte of an erased key stays in a live file. Files that would
become empty are simply dropped. Other files are never read beyond their manifest statistics
and the one to three columns (``patron_key``, ``occurred_at``, ``type``) that decide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.events import schema
from libcrm.events.store import layout
from libcrm.events.store.aliases import check_key
from libcrm.events.store.files import write_table
from libcrm.events.store.manifest import Alias, FileEntry, micros
from libcrm.events.store.rows import write_sorted

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore, WriteSession


@dataclass(frozen=True)
class RetentionRule:
    """Events of ``types`` (all types when ``None``) older than ``older_than`` are deleted, or
    kept for statistics with their patron key replaced by the anonymous key."""

    older_than: timedelta
    types: frozenset[str] | None = None
    action: Literal["delete", "anonymise"] = "delete"

    def __post_init__(self) -> None:
        if self.older_than <= timedelta(0):
            raise ValueError("older_than must be positive")
        if self.types is not None:
            unknown = set(self.types) - schema.EVENT_TYPES
            if unknown:
                raise ValueError(f"unknown event type(s): {', '.join(sorted(unknown))}")
        if self.action not in ("delete", "anonymise"):
            raise ValueError("action must be 'delete' or 'anonymise'")


@dataclass
class RewriteReport:
    operation: str
    rows_deleted: int = 0
    rows_anonymised: int = 0
    files_rewritten: list[str] = field(default_factory=list)
    files_dropped: list[str] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rows_deleted or self.rows_anonymised)


@dataclass(frozen=True)
class _Change:
    """Which rows a rewrite deletes or anonymises, decided from a few ``columns`` of a file."""

    columns: list[str]
    delete: Callable[[pa.Table], pa.Array]
    anonymise: Callable[[pa.Table], pa.Array] | None = None


def erase_patron(store: EventStore, patron_key: str) -> RewriteReport:
    """Delete every event of the person ``patron_key`` names, under every key merged into it.

    Their aliases leave the manifest too, so afterwards neither key appears in any live file.
    """
    check_key(patron_key)
    with store.writing("erase") as session:
        manifest = session.manifest
        person = manifest.resolve(patron_key)
        keys = sorted(manifest.keys_meaning(person))
        key_set = pa.array(keys, pa.string())
        change = _Change(
            ["patron_key"], lambda t: pc.is_in(t.column("patron_key"), value_set=key_set)
        )
        candidates = [e for e in manifest.files.values() if any(e.may_hold(k) for k in keys)]
        aliases = {old: a for old, a in manifest.aliases.items() if old not in keys}
        report = RewriteReport("erase")
        _rewrite(
            store,
            session,
            candidates,
            change,
            report,
            aliases=aliases if len(aliases) != len(manifest.aliases) else None,
        )
    return report


def apply_retention(
    store: EventStore, rules: Sequence[RetentionRule], *, now: datetime | None = None
) -> RewriteReport:
    """Apply every rule in one rewrite. A row that both a delete and an anonymise rule match
    is deleted."""
    report = RewriteReport("retention")
    if not rules:
        return report
    now = (now or datetime.now(UTC)).astimezone(UTC)

    def matches(table: pa.Table, action: str) -> pa.Array:
        mask = pa.repeat(pa.scalar(False), table.num_rows)
        for rule in rules:
            if rule.action != action:
                continue
            cut = pa.scalar(now - rule.older_than, schema.TIMESTAMP)
            hit = pc.less(table.column("occurred_at"), cut)
            if rule.types is not None:
                types = pa.array(sorted(rule.types), pa.string())
                hit = pc.and_(hit, pc.is_in(table.column("type"), value_set=types))
            mask = pc.or_(mask, hit)
        return mask

    def anonymise(table: pa.Table) -> pa.Array:
        not_yet = pc.not_equal(table.column("patron_key"), schema.ANONYMOUS_PATRON_KEY)
        return pc.and_(matches(table, "anonymise"), not_yet)

    change = _Change(
        ["patron_key", "occurred_at", "type"], lambda t: matches(t, "delete"), anonymise
    )
    with store.writing("retention") as session:
        cut_us = micros(max(now - r.older_than for r in rules))
        candidates = [e for e in session.manifest.files.values() if e.min_at < cut_us]
        _rewrite(store, session, candidates, change, report)
    return report


def _rewrite(
    store: EventStore,
    session: WriteSession,
    entries: list[FileEntry],
    change: _Change,
    report: RewriteReport,
    aliases: dict[str, Alias] | None = None,
) -> None:
    """Rewrite the ``entries`` that ``change`` touches, publish once, delete the old files."""
    op_id = layout.new_operation_id("r")
    old: list[FileEntry] = []
    new: list[FileEntry] = []
    for n, entry in enumerate(sorted(entries, key=lambda e: e.path)):
        path = store.root / entry.path
        probe = pq.read_table(path, columns=change.columns)
        delete = pc.fill_null(change.delete(probe), False)
        anonymise = None
        if change.anonymise is not None:
            anonymise = pc.and_(pc.invert(delete), pc.fill_null(change.anonymise(probe), False))
        deleted = pc.sum(delete).as_py() or 0
        anonymised = (pc.sum(anonymise).as_py() or 0) if anonymise is not None else 0
        if not deleted and not anonymised:
            continue
        report.rows_deleted += deleted
        report.rows_anonymised += anonymised
        old.append(entry)
        table = pq.read_table(path).cast(schema.EVENT_SCHEMA)
        if anonymised:
            position = table.schema.get_field_index("patron_key")
            keys = pc.if_else(anonymise, schema.ANONYMOUS_PATRON_KEY, table.column(position))
            table = table.set_column(position, table.schema.field(position), keys)
        table = table.filter(pc.invert(delete))
        if table.num_rows == 0:
            report.files_dropped.append(entry.path)
            continue
        relative = f"{entry.partition}/{op_id}-{n}.parquet"
        options = {"aliases_applied": entry.aliases_applied, "written_by": op_id}
        if entry.sorted and anonymised:  # new keys break the order: sort again
            written = write_sorted(
                table, store.root, relative, row_group_rows=store.options.row_group_rows, **options
            )
        elif entry.sorted:  # deleting rows keeps the order
            written = write_table(
                table,
                store.root,
                relative,
                sorted_by_patron=True,
                row_group_rows=store.options.row_group_rows,
                compression_level=3,
                **options,
            )
        else:
            written = write_table(table, store.root, relative, sorted_by_patron=False, **options)
        new.append(written)
        report.files_rewritten.append(entry.path)
    if not old and aliases is None:
        return
    partitions = sorted({e.partition for e in old})
    for partition in partitions:
        layout.fsync_dir(store.root / partition)
    session.publish(session.manifest.next(add=new, remove=[e.path for e in old], aliases=aliases))
    for entry in old:
        (store.root / entry.path).unlink(missing_ok=True)
    for partition in partitions:
        folder = store.root / partition
        if any(folder.iterdir()):
            layout.fsync_dir(folder)
        else:
            folder.rmdir()
            layout.fsync_dir(folder.parent)
    report.partitions = partitions
