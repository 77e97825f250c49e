"""Reads of the audit trail: the administrators' browser and the chain verifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from libcrm.privacy.chain import ChainRecord, StoredRecord
from libcrm.privacy.models import AuditEvent


def audit_events(
    *,
    actor: str = "",
    action: str = "",
    patron_key: str = "",
    since: date | None = None,
    until: date | None = None,
    upto: int | None = None,
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("patron")
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if action:
        events = events.filter(action=action)
    if patron_key:
        events = events.filter(patron_key=patron_key)
    tz = timezone.get_current_timezone()
    if since:
        events = events.filter(at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        events = events.filter(at__lte=datetime.combine(until, time.max, tzinfo=tz))
    if upto:
        events = events.filter(seq__lte=upto)
    return events


def chain_records(chunk_size: int = 2000) -> Iterator[StoredRecord]:
    """Every audit record in chain order, as the verifier reads them (one query, streamed)."""
    rows = (
        AuditEvent.objects.order_by("seq")
        .values_list(
            "seq",
            "at",
            "actor_label",
            "via",
            "action",
            "patron_digest",
            "target_digest",
            "ip",
            "detail",
            "prev_hash",
            "hash",
            "patron_key",
            "target",
        )
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        seq, at, label, via, action, p_digest, t_digest, ip, detail, prev, sealed = row[:11]
        yield StoredRecord(
            record=ChainRecord(
                seq=seq,
                at=at,
                actor_label=label,
                via=via,
                action=action,
                patron_digest=p_digest,
                target_digest=t_digest,
                ip=str(ip) if ip is not None else None,
                detail=detail,
                prev_hash=prev,
            ),
            hash=sealed,
            patron_key=row[11],
            target=row[12],
        )
