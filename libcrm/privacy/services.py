"""Writes of the privacy domain: audit records, appended to the tamper-evident audit chain.

Appends are serialised so that every record gets the next ``seq`` and the seal of the one before
it: PostgreSQL takes a transaction-scoped advisory lock; SQLite runs every transaction as
IMMEDIATE (see settings), which already lets one writer in at a time. The lock is held until the
surrounding transaction commits, so services write their audit record last.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from libcrm.privacy import chain, checkpoint
from libcrm.privacy.actors import Actor
from libcrm.privacy.keys import audit_chain_key
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.selectors import chain_records

if TYPE_CHECKING:
    from libcrm.patrons.models import Patron

logger = logging.getLogger(__name__)

# Any fixed 64-bit number that no other part of libcrm uses as an advisory lock key.
_CHAIN_LOCK = 0x6C6963726D_617564  # "licrm" "aud"
_IP_FIELD = AuditEvent._meta.get_field("ip")
_HEAD_SQL = f"SELECT seq, hash FROM {AuditEvent._meta.db_table} ORDER BY seq DESC LIMIT 1"  # noqa: S608


@dataclass(frozen=True)
class AuditRecord:
    """One record of a bulk write (see :func:`record_audit_events`)."""

    action: AuditAction
    patron: Patron | None = None
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def record_audit_event(
    actor: Actor,
    action: AuditAction,
    *,
    patron: Patron | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit record. ``detail`` must never hold personal data (field names, counts)
    nor patron keys or uuids: the chain seals it, so erasure could not redact them; name the
    patron through ``patron`` (redactable) and other records by internal id."""
    return _append(actor, [AuditRecord(action, patron, target, detail or {})])[0]


def record_audit_events(actor: Actor, records: list[AuditRecord]) -> None:
    """Append many audit records in bulk inserts: bulk writes are audited record by record,
    exactly as the single-item services would have done."""
    if records:
        _append(actor, records)


def audit_append_queries() -> int:
    """Queries one audit append costs (for tests that bound a request's queries): the chain lock
    on PostgreSQL, reading the chain's head, the insert."""
    return 3 if connection.vendor == "postgresql" else 2


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])


def _chain_head() -> tuple[int, str]:
    # Plain SQL: this runs on every audited request, and the ORM's query building cost more
    # than the query itself (a single step down the unique index on seq).
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_SQL)
        last = cursor.fetchone()
    return (int(last[0]), str(last[1])) if last is not None else (0, chain.GENESIS)


def _append(actor: Actor, records: list[AuditRecord]) -> list[AuditEvent]:
    key = audit_chain_key()
    ip = _IP_FIELD.get_prep_value(actor.ip) if actor.ip else None
    label = actor.label[:150]
    # No savepoint: an audit record that cannot be written fails the surrounding change.
    with transaction.atomic(savepoint=False):
        _lock_chain()
        seq, prev_hash = _chain_head()
        now = timezone.now()
        events = []
        for r in records:
            seq += 1
            patron_key = r.patron.patron_key if r.patron is not None else ""
            target = r.target[:120]
            # What is sealed is what the database gives back: JSON round-trips (tuples → lists).
            detail = json.loads(json.dumps(r.detail))
            event = AuditEvent(
                at=now,
                actor_id=actor.user_id,
                actor_label=label,
                via=actor.via,
                action=r.action,
                patron=r.patron,
                patron_key=patron_key,
                target=target,
                ip=ip,
                detail=detail,
                seq=seq,
                prev_hash=prev_hash,
                patron_digest=chain.digest(key, "patron_key", patron_key),
                target_digest=chain.digest(key, "target", target),
            )
            event.hash = chain.seal(key, _sealed_fields(event))
            prev_hash = event.hash
            events.append(event)
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            AuditEvent.objects.bulk_create(events, batch_size=1000)
        head = chain.Checkpoint(seq, prev_hash)
        transaction.on_commit(lambda: checkpoint.advance(head))
    return events


def _sealed_fields(event: AuditEvent) -> chain.ChainRecord:
    at: datetime = event.at
    return chain.ChainRecord(
        seq=event.seq,
        at=at,
        actor_label=event.actor_label,
        via=event.via,
        action=str(event.action),
        patron_digest=event.patron_digest,
        target_digest=event.target_digest,
        ip=event.ip,
        detail=event.detail,
        prev_hash=event.prev_hash,
    )


def redact_audit_subject(patron_key: str) -> int:
    """Blank the patron key and target of every audit record about an erased patron.

    The chain stays verifiable: its seals cover keyed digests of these two fields, so the walk
    reports such records as redacted, not altered. Returns the number of records redacted.
    """
    if not patron_key:
        return 0
    with transaction.atomic():
        return AuditEvent.objects.filter(patron_key=patron_key).update(
            patron_key="", target="", patron=None
        )


def verify_audit_chain(actor: Actor, checkpoint_copy: Path | None = None) -> chain.ChainReport:
    """Walk the whole audit chain and report every break; the check itself is audited.

    ``checkpoint_copy``: compare with a copy of the checkpoint kept elsewhere instead of the
    local one (which an intruder on this machine could have rewound).
    """
    point = checkpoint.read(checkpoint_copy)
    report = chain.verify(audit_chain_key(), chain_records(), point)
    if not report.ok:
        logger.error(
            "audit chain verification failed: %s", "; ".join(p.message for p in report.problems)
        )
    record_audit_event(
        actor,
        AuditAction.VERIFY_AUDIT,
        detail={
            "ok": report.ok,
            "records": report.records,
            "problems": len(report.problems) + report.more_problems,
            "redacted": report.redacted,
            **({"first_problem_seq": report.problems[0].seq} if report.problems else {}),
        },
    )
    return report


def reset_audit_checkpoint(actor: Actor) -> chain.Checkpoint:
    """Make the checkpoint agree with the chain's current end (after restoring an older backup,
    which legitimately drops the records written since)."""
    with transaction.atomic():
        _lock_chain()
        seq, last_hash = _chain_head()
        point = chain.Checkpoint(seq, last_hash)
        checkpoint.write(point)
        record_audit_event(
            actor, AuditAction.VERIFY_AUDIT, detail={"checkpoint_reset": True, "seq": seq}
        )
    return point
