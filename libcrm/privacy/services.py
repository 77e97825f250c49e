"""Writes of the privacy domain: audit records (and, later, consents and data-subject requests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

if TYPE_CHECKING:
    from libcrm.patrons.models import Patron


def record_audit_event(
    actor: Actor,
    action: AuditAction,
    *,
    patron: Patron | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit record. ``detail`` must never hold personal data (field names, counts)."""
    return AuditEvent.objects.create(
        actor_id=actor.user_id,
        actor_label=actor.label[:150],
        via=actor.via,
        action=action,
        patron=patron,
        patron_key=patron.patron_key if patron is not None else "",
        target=target[:120],
        ip=actor.ip,
        detail=detail or {},
    )


@dataclass(frozen=True)
class AuditRecord:
    """One record of a bulk write (see :func:`record_audit_events`)."""

    action: AuditAction
    patron: Patron | None = None
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def record_audit_events(actor: Actor, records: list[AuditRecord]) -> None:
    """Append many audit records in bulk inserts: bulk writes are audited record by record,
    exactly as the single-item services would have done."""
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                actor_id=actor.user_id,
                actor_label=actor.label[:150],
                via=actor.via,
                action=r.action,
                patron=r.patron,
                patron_key=r.patron.patron_key if r.patron is not None else "",
                target=r.target[:120],
                ip=actor.ip,
                detail=r.detail,
            )
            for r in records
        ),
        batch_size=1000,
    )
