"""The event store's ledger in the relational store (:class:`~libcrm.events.models.EventBatch`).

Each method runs in its own *durable* transaction: the store relies on a ledger write being on
disk when the call returns (it is an append's commit point), so calling these inside an outer
``atomic()`` block is refused rather than silently weakened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from libcrm.events.models import EventBatch
from libcrm.events.store.ledger import BatchRecord, BatchState


class DjangoLedger:
    """:class:`~libcrm.events.store.ledger.Ledger` over the ``EventBatch`` model."""

    using: str | None = None

    def begin(self, record: BatchRecord) -> None:
        with transaction.atomic(using=self.using, durable=True):
            EventBatch.objects.create(**_fields(record, BatchState.PENDING))

    def commit(self, record: BatchRecord) -> None:
        with transaction.atomic(using=self.using, durable=True):
            updated = EventBatch.objects.filter(
                pk=record.batch_id, state=BatchState.PENDING
            ).update(
                **{
                    k: v
                    for k, v in _fields(record, BatchState.COMMITTED).items()
                    if k not in ("id", "store", "source", "digest", "started_at")
                }
            )
            if updated != 1:
                raise RuntimeError(f"batch {record.batch_id} is not pending; cannot commit it")

    def skip(self, record: BatchRecord) -> None:
        with transaction.atomic(using=self.using, durable=True):
            EventBatch.objects.create(**_fields(record, BatchState.SKIPPED))

    def roll_back(self, batch_id: str, note: str) -> None:
        with transaction.atomic(using=self.using, durable=True):
            EventBatch.objects.filter(pk=batch_id, state=BatchState.PENDING).update(
                state=BatchState.ROLLED_BACK, note=note[:200], finished_at=timezone.now()
            )

    def find_committed(self, store_id: str, digest: str) -> BatchRecord | None:
        row = (
            EventBatch.objects.filter(
                store=store_id, digest=digest, state=BatchState.COMMITTED, rejected=0
            )
            .order_by("seq")
            .first()
        )
        return _record(row) if row else None

    def pending(self, store_id: str) -> Sequence[BatchRecord]:
        rows = EventBatch.objects.filter(store=store_id, state=BatchState.PENDING)
        return [_record(row) for row in rows.order_by("started_at")]

    def committed_since(self, store_id: str, seq: int) -> Sequence[BatchRecord]:
        rows = EventBatch.objects.filter(
            store=store_id, state=BatchState.COMMITTED, seq__gt=seq
        ).order_by("seq")
        return [_record(row) for row in rows]


def _fields(record: BatchRecord, state: BatchState) -> dict[str, object]:
    data = asdict(record)
    return {
        "id": data["batch_id"],
        "store": data["store_id"],
        "source": data["source"][:64],
        "digest": data["digest"],
        "state": state.value,
        "seq": data["seq"],
        "received": data["received"],
        "added": data["added"],
        "duplicates": data["duplicates"],
        "rejected": data["rejected"],
        "files": data["files"],
        "started_at": data["started_at"] or timezone.now(),
        "finished_at": data["finished_at"],
        "note": data["note"][:200],
    }


def _record(row: EventBatch) -> BatchRecord:
    return BatchRecord(
        batch_id=row.id,
        store_id=row.store,
        source=row.source,
        digest=row.digest,
        state=BatchState(row.state),
        received=row.received,
        added=row.added,
        duplicates=row.duplicates,
        rejected=row.rejected,
        files=list(row.files),
        seq=row.seq,
        started_at=row.started_at,
        finished_at=row.finished_at,
        note=row.note,
    )
