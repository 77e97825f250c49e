"""Writes to this installation's event store: the functions the ingestion pipeline, the CLI,
the privacy workflows and identity resolution call. The store lives in
``settings.LIBCRM_EVENT_STORE_DIR``; one :class:`EventStore` is kept per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from django.conf import settings

from libcrm.events.ledger import DjangoLedger
from libcrm.events.signals import events_appended
from libcrm.events.store import (
    AppendReport,
    EventStore,
    Progress,
    RetentionRule,
    RewriteReport,
    rewrite,
)
from libcrm.events.store.aliases import RekeyReport
from libcrm.events.store.compaction import CompactionReport
from libcrm.events.store.store import AppendInput

_stores: dict[Path, EventStore] = {}
_guard = threading.Lock()


def event_store() -> EventStore:
    """The store of this installation (created, and recovered if need be, on first use)."""
    root = Path(settings.LIBCRM_EVENT_STORE_DIR).resolve()
    with _guard:
        store = _stores.get(root)
        if store is None:
            store = _stores[root] = EventStore(root, DjangoLedger())
        return store


def append_events(
    data: AppendInput,
    *,
    source: str,
    batch_rows: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> AppendReport:
    """Append pseudonymised events (see :meth:`EventStore.append`). Call outside a
    transaction: each ledger batch commits on its own, which is what makes a re-run after a
    crash add exactly what is missing."""
    report = event_store().append(
        data, source=source, batch_rows=batch_rows, on_progress=on_progress
    )
    if report.added:
        events_appended.send_robust(sender=EventStore, report=report, source=source)
    return report


def erase_patron_events(patron_key: str) -> RewriteReport:
    """Remove every event of a patron, under every key merged into theirs (right to erasure);
    the caller audits it. The ledger's file statistics stop naming those keys too."""
    store = event_store()
    manifest = store.manifest
    keys = sorted(manifest.keys_meaning(manifest.resolve(patron_key)))
    report = store.erase_patron(patron_key)
    _forget_keys_in_ledger(store.store_id, keys)
    return report


_LOWEST_KEY = "pk" + "2" * 24  # '2' sorts before every other base32 character
_HIGHEST_KEY = "pk" + "z" * 24


def _forget_keys_in_ledger(store_id: str, keys: Sequence[str]) -> None:
    """A ledger row lists its files with their patron-key range, which can be an erased key:
    widen such a bound to the lowest or highest possible key (still a true bound, so recovery
    and pruning stay correct) so that no row names the erased patron."""
    from django.db.models import Q

    from libcrm.events.models import EventBatch

    wanted = set(keys)
    if not wanted:
        return
    found = Q()
    for key in wanted:
        found |= Q(files__icontains=key)
    for batch in EventBatch.objects.filter(found, store=store_id):
        files = []
        for entry in batch.files:
            entry = dict(entry)
            if entry.get("pk_min") in wanted:
                entry["pk_min"] = _LOWEST_KEY
            if entry.get("pk_max") in wanted:
                entry["pk_max"] = _HIGHEST_KEY
            files.append(entry)
        EventBatch.objects.filter(pk=batch.pk).update(files=files)


def apply_event_retention(
    rules: Sequence[RetentionRule], *, now: datetime | None = None, dry_run: bool = False
) -> RewriteReport:
    """Delete or anonymise events past their retention (see :class:`RetentionRule`); with
    ``dry_run`` only report what would change. The caller audits it."""
    return rewrite.apply_retention(event_store(), rules, now=now, dry_run=dry_run)


def merge_patron_events(old_patron_key: str, new_patron_key: str) -> RekeyReport:
    """After an identity merge: ``old_patron_key``'s events become ``new_patron_key``'s."""
    return event_store().rekey(old_patron_key, new_patron_key)


def unmerge_patron_events(old_patron_key: str, merged_into: str) -> RekeyReport:
    """Undo :func:`merge_patron_events`: the events stored under ``old_patron_key`` are its own
    again."""
    return event_store().unalias(old_patron_key, merged_into)


def compact_events(months: Iterable[tuple[int, int]] | None = None) -> CompactionReport:
    """Sort and merge small files (run after big imports, or nightly)."""
    return event_store().compact(months)
