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
from libcrm.events.store.aliases import apply_aliases, check_key
from libcrm.events.store.files import write_table
from libcrm.events.store.manifest import Alias, FileEntry, Manifest, micros
from libcrm.events.store.rows import write_sorted

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore, WriteSession


@dataclass(frozen=True)
class RetentionRule:
    """Events of ``types`` (all types when ``None``) older than ``older_than`` are deleted, or
    kept for statistics with their patron key replaced by the anonymous key.

    ``keep_keys`` are the patrons the rule spares (those who asked to keep their loan
    history, say); a key merged into one of them is spared too. With ``after_return`` the age
    counts from the *return* of the item: an event with an ``item_id`` qualifies once the same
    patron returned that item, at or after the event, more than ``older_than`` ago — so a loan,
    its renewals and the hold before it leave together with the return, and a loan not yet
    returned is kept. Events without an ``item_id`` never qualify under such a rule.
    """

    older_than: timedelta
    types: frozenset[str] | None = None
    action: Literal["delete", "anonymise"] = "delete"
    keep_keys: frozenset[str] = frozenset()
    after_return: bool = False

    def __post_init__(self) -> None:
        if self.older_than <= timedelta(0):
            raise ValueError("older_than must be positive")
        if self.types is not None:
            unknown = set(self.types) - schema.EVENT_TYPES
            if unknown:
                raise ValueError(f"unknown event type(s): {', '.join(sorted(unknown))}")
        if self.action not in ("delete", "anonymise"):
            raise ValueError("action must be 'delete' or 'anonymise'")
        if not isinstance(self.keep_keys, frozenset):
            raise ValueError("keep_keys must be a frozenset of patron keys")
        for key in self.keep_keys:
            check_key(key, "keep_keys")


@dataclass
class RewriteReport:
    operation: str
    rows_deleted: int = 0
    rows_anonymised: int = 0
    files_rewritten: list[str] = field(default_factory=list)
    files_dropped: list[str] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    """Rows changed per action (``deleted``/``anonymised``) and event type."""
    dry_run: bool = False

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
    store: EventStore,
    rules: Sequence[RetentionRule],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RewriteReport:
    """Apply every rule in one rewrite. A row that both a delete and an anonymise rule match
    is deleted. With ``dry_run`` the report says what would change and nothing is written."""
    report = RewriteReport("retention", dry_run=dry_run)
    if not rules:
        return report
    now = (now or datetime.now(UTC)).astimezone(UTC)
    columns = ["patron_key", "occurred_at", "type"]
    if any(r.after_return for r in rules):
        columns.append("item_id")

    with store.writing("retention") as session:
        manifest = session.manifest
        cut_us = micros(max(now - r.older_than for r in rules))
        candidates = [e for e in manifest.files.values() if e.min_at < cut_us]
        kept = {
            rule: pa.array(sorted({manifest.resolve(k) for k in rule.keep_keys}), pa.string())
            for rule in rules
            if rule.keep_keys
        }
        returns = {
            rule: _last_returns(store, manifest, candidates, now - rule.older_than)
            for rule in rules
            if rule.after_return
        }

        def matches(table: pa.Table, action: str) -> pa.Array:
            mask = pa.repeat(pa.scalar(False), table.num_rows)
            person = None
            for rule in rules:
                if rule.action != action:
                    continue
                if (rule.keep_keys or rule.after_return) and person is None:
                    person = apply_aliases(table, manifest).column("patron_key")
                if rule.after_return:
                    hit = _returned(table, person, returns[rule])
                else:
                    cut = pa.scalar(now - rule.older_than, schema.TIMESTAMP)
                    hit = pc.less(table.column("occurred_at"), cut)
                if rule.types is not None:
                    types = pa.array(sorted(rule.types), pa.string())
                    hit = pc.and_(hit, pc.is_in(table.column("type"), value_set=types))
                if rule.keep_keys:
                    hit = pc.and_(hit, pc.invert(pc.is_in(person, value_set=kept[rule])))
                mask = pc.or_(mask, pc.fill_null(hit, False))
            return mask

        def anonymise(table: pa.Table) -> pa.Array:
            not_yet = pc.not_equal(table.column("patron_key"), schema.ANONYMOUS_PATRON_KEY)
            return pc.and_(matches(table, "anonymise"), not_yet)

        change = _Change(columns, lambda t: matches(t, "delete"), anonymise)
        _rewrite(store, session, candidates, change, report, dry_run=dry_run)
    return report


_PAIR = "\x1f"  # joins patron key and item id; neither may hold control characters


def _last_returns(
    store: EventStore, manifest: Manifest, entries: list[FileEntry], cut: datetime
) -> pa.Table:
    """Per (patron, item): the time of the patron's last return of the item before ``cut``
    (``pair`` and ``returned_at`` columns). Patrons are resolved through merges; returns
    already anonymised belong to nobody and are left out."""
    cut_scalar = pa.scalar(cut, schema.TIMESTAMP)
    parts = []
    for entry in entries:
        table = pq.read_table(
            store.root / entry.path,
            columns=["patron_key", "occurred_at", "type", "item_id"],
            filters=[("type", "=", "return")],
        )
        table = table.filter(
            pc.and_(
                pc.less(table.column("occurred_at"), cut_scalar),
                pc.and_(
                    pc.is_valid(table.column("item_id")),
                    pc.not_equal(table.column("patron_key"), schema.ANONYMOUS_PATRON_KEY),
                ),
            )
        )
        if table.num_rows:
            parts.append(table.select(["patron_key", "occurred_at", "item_id"]))
    if not parts:
        return pa.table(
            {"pair": pa.array([], pa.string()), "returned_at": pa.array([], schema.TIMESTAMP)}
        )
    rows = apply_aliases(pa.concat_tables(parts), manifest)
    pair = pc.binary_join_element_wise(
        rows.column("patron_key").cast(pa.string()), rows.column("item_id").cast(pa.string()), _PAIR
    )
    last = (
        pa.table({"pair": pair, "returned_at": rows.column("occurred_at")})
        .group_by("pair")
        .aggregate([("returned_at", "max")])
    )
    return pa.table({"pair": last.column("pair"), "returned_at": last.column("returned_at_max")})


def _returned(table: pa.Table, person: pa.ChunkedArray, returns: pa.Table) -> pa.Array:
    """Rows whose item the same patron returned at or after the row's time (and before the
    rule's cut, which ``returns`` already applied)."""
    if returns.num_rows == 0 or table.num_rows == 0:
        return pa.repeat(pa.scalar(False), table.num_rows)
    pair = pc.binary_join_element_wise(
        person.cast(pa.string()), table.column("item_id").cast(pa.string()), _PAIR
    )
    where = pc.index_in(pair, value_set=returns.column("pair"))
    returned_at = pc.take(returns.column("returned_at"), where)
    return pc.fill_null(pc.less_equal(table.column("occurred_at"), returned_at), False)


def _rewrite(
    store: EventStore,
    session: WriteSession,
    entries: list[FileEntry],
    change: _Change,
    report: RewriteReport,
    aliases: dict[str, Alias] | None = None,
    *,
    dry_run: bool = False,
) -> None:
    """Rewrite the ``entries`` that ``change`` touches, publish once, delete the old files
    (with ``dry_run``, only count what would change)."""
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
        for action, mask in (("deleted", delete), ("anonymised", anonymise)):
            if mask is not None and "type" in probe.column_names and pc.any(mask).as_py():
                counts = report.by_type.setdefault(action, {})
                for name, count in _type_counts(probe.filter(mask)).items():
                    counts[name] = counts.get(name, 0) + count
        if dry_run:
            continue
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


def _type_counts(rows: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(rows.column("type"))
    return {
        str(v): int(n)
        for v, n in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
    }
