"""Writes of consent: a patron's (or guardian's) choice, and what erasure and merges do to
choices. Each runs in a transaction and writes its audit record (``CHANGE_CONSENT``); records
hold the purpose and the yes or no, never anything about the patron beyond the reference."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.consent import rules
from libcrm.consent.errors import ConsentError
from libcrm.consent.models import ConsentRecord, ConsentVia, Purpose
from libcrm.consent.selectors import (
    check_purpose,
    current_wording,
    may_decide_for_children,
    patron_is_child,
)
from libcrm.patrons.models import Patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event


def _check_guardian(patron: Patron, guardian: Patron, today: date) -> None:
    if guardian.pk == patron.pk:
        raise ConsentError("guardian", _("a child cannot be their own guardian"))
    if patron.household_id is None or guardian.household_id != patron.household_id:
        raise ConsentError(
            "guardian", _("the guardian must belong to the same household as the child")
        )
    if guardian.household_role not in rules.GUARDIAN_ROLES:
        raise ConsentError(
            "guardian",
            _("the guardian's role in the household must be guardian or head of household"),
        )
    if not may_decide_for_children(guardian, today):
        raise ConsentError(
            "guardian",
            _("the guardian must be 18 or older (with a birth year on record)"),
        )


def _lock(*patrons: Patron) -> None:
    """Serialise concurrent choices about the same patrons (one current record per purpose)."""
    list(Patron.objects.select_for_update().filter(pk__in=[p.pk for p in patrons]).values("pk"))


def set_consent(
    actor: Actor,
    patron: Patron,
    purpose: str,
    granted: bool,
    *,
    via: str,
    guardian: Patron | None = None,
) -> ConsentRecord:
    """Record a yes or no for ``purpose`` under the wording now in force.

    A child under 14 cannot say yes alone: ``guardian`` must be a patron of the same household
    whose role is guardian or head and who is 18 or older. Anyone — a child too — can say no.
    """
    check_purpose(purpose)
    if via not in ConsentVia.values:
        raise ConsentError(
            "via",
            _("unknown way %(via)s; expected one of %(choices)s")
            % {"via": via, "choices": ", ".join(ConsentVia.values)},
        )
    today = timezone.localdate()
    child = patron_is_child(patron, today)
    if guardian is not None:
        if not child:
            raise ConsentError(
                "guardian", _("a guardian decides only for children under 14; this patron is not")
            )
        _check_guardian(patron, guardian, today)
    elif child and granted:
        raise ConsentError(
            "guardian",
            _(
                "the patron is under 14: a parent or guardian of the same household (18 or "
                "older) must give this consent"
            ),
        )
    wording = current_wording(purpose)
    if wording is None:
        raise ConsentError(
            "purpose", _("no wording is published for %(purpose)s yet") % {"purpose": purpose}
        )
    with transaction.atomic():
        _lock(patron)
        ConsentRecord.objects.filter(patron=patron, purpose=purpose, current=True).update(
            current=False
        )
        record = ConsentRecord.objects.create(
            patron=patron,
            purpose=purpose,
            granted=bool(granted),
            wording=wording,
            via=via,
            actor_label=actor.label[:150],
            guardian=guardian,
            current=True,
        )
        record_audit_event(
            actor,
            AuditAction.CHANGE_CONSENT,
            patron=patron,
            target=f"consent:{purpose}",
            detail={
                "purpose": purpose,
                "granted": bool(granted),
                "wording_version": wording.version,
                "via": via,
                "guardian": guardian is not None,
            },
        )
    return record


def forget_consents(patron: Patron) -> int:
    """Erasure: delete every consent record of ``patron`` and the patron's name on records they
    signed as a guardian. The caller's erasure record is the audit; returns records deleted."""
    with transaction.atomic():
        deleted, _by_model = ConsentRecord.objects.filter(patron=patron).delete()
        ConsentRecord.objects.filter(guardian=patron).update(guardian=None)
    return deleted


def move_consents(source: Patron, target: Patron, *, actor: Actor | None = None) -> int:
    """Merge: ``source``'s records (history included) move to ``target``, and per purpose the
    most restrictive explicit choice of the two becomes ``target``'s (one "no" wins; a patron
    who never chose takes nothing away). Returns the number of records moved."""
    actor = actor or Actor.system("merge")
    if source.pk == target.pk:
        raise ConsentError("target", _("a patron cannot be merged into itself"))
    with transaction.atomic():
        _lock(source, target)
        source_current = {
            r.purpose: r for r in ConsentRecord.objects.filter(patron=source, current=True)
        }
        target_current = {
            r.purpose: r for r in ConsentRecord.objects.filter(patron=target, current=True)
        }
        moved = ConsentRecord.objects.filter(patron=source).update(patron=target, current=False)
        ConsentRecord.objects.filter(guardian=source).update(guardian=target)
        for purpose in Purpose.values:
            theirs, ours = source_current.get(purpose), target_current.get(purpose)
            state = rules.merged_state(
                [theirs.granted if theirs else None, ours.granted if ours else None]
            )
            if state is None or (ours is not None and ours.granted == state):
                continue  # nothing chosen, or the survivor's own choice stands
            if ours is None and theirs is not None:
                # The survivor never chose: the merged record's choice (and wording) carries over.
                ConsentRecord.objects.filter(pk=theirs.pk).update(current=True)
                continue
            # The survivor said yes where the merged record said no: no wins, as a new record.
            ConsentRecord.objects.filter(pk=ours.pk).update(current=False)
            wording = theirs.wording if theirs is not None else ours.wording
            ConsentRecord.objects.create(
                patron=target,
                purpose=purpose,
                granted=False,
                wording=wording,
                via=ConsentVia.MERGE,
                actor_label=actor.label[:150],
                current=True,
            )
            record_audit_event(
                actor,
                AuditAction.CHANGE_CONSENT,
                patron=target,
                target=f"consent:{purpose}",
                detail={"purpose": purpose, "granted": False, "via": ConsentVia.MERGE},
            )
    return moved
