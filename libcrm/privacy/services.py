"""Writes of the privacy domain: audit records (and, later, consents and data-subject requests)."""

from __future__ import annotations

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
