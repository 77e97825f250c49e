"""Data-subject requests: a patron's export, correction and erasure (issue 6, PIPL art. 45-47,
GDPR art. 15-17 and 20). Each is audited; the erasure's record holds no personal data.

Erasure deletes the patron's row rather than keeping a blanked tombstone: every row that
points at the patron goes with it (identifiers, name terms, consents, portal account, linkage
pairs and merges — the database's own cascades), and a record merged into this one earlier is
the same person and is erased too. The audit trail stays verifiable: past records about the
patron have their patron key and target blanked through
:func:`libcrm.privacy.services.redact_audit_subject`, which the hash chain allows for by
sealing keyed digests of those two fields. Then the events go (every key of the person), the
``patron_erased`` signal lets features, segments and recommendations forget the key, and the
database files are scrubbed (:mod:`libcrm.subjects.scrubbing`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from libcrm.events.services import erase_patron_events, event_store
from libcrm.patrons.models import Household, Patron
from libcrm.patrons.services import update_patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event, redact_audit_subject
from libcrm.privacy.signals import patron_erased
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.export import build_archive, subject_data, subject_events
from libcrm.subjects.models import ErasureReason
from libcrm.subjects.scrubbing import scrub_after_erasure
from libcrm.subjects.selectors import records_merged_into

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubjectExport:
    archive: bytes
    events: int
    identifiers: int

    @property
    def filename(self) -> str:
        return "libcrm-my-data.zip"


def export_subject(actor: Actor, patron: Patron) -> SubjectExport:
    """Everything about ``patron`` as a ZIP (see :mod:`libcrm.subjects.export`); audited."""
    data = subject_data(patron)
    events = subject_events(patron)
    archive = build_archive(data, events)
    record_audit_event(
        actor,
        AuditAction.EXPORT_SUBJECT,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={
            "identifiers": len(data["identifiers"]),
            "consents": len(data["consents"]),
            "access_records": len(data["access_log"]),
            "events": len(events),
            "bytes": len(archive),
        },
    )
    return SubjectExport(archive, len(events), len(data["identifiers"]))


@transaction.atomic
def correct_patron(actor: Actor, patron: Patron, changes: Mapping[str, Any]) -> list[str]:
    """The patron's correction request: the same rules and ``UPDATE_PATRON`` record as any
    edit (:func:`libcrm.patrons.services.update_patron`), plus a ``CORRECT_PATRON`` record
    marking it as the data subject's request. Returns the names of the fields changed."""
    before = {key: getattr(patron, key) for key in changes if hasattr(patron, key)}
    update_patron(actor, patron, changes)
    changed = sorted(k for k, v in before.items() if getattr(patron, k) != v)
    if changed:
        record_audit_event(
            actor,
            AuditAction.CORRECT_PATRON,
            patron=patron,
            target=f"patron:{patron.uuid}",
            detail={"fields": changed},
        )
    return changed


@dataclass(frozen=True)
class ErasureReport:
    records: int  # patron records erased: this one and any merged into it
    identifiers: int
    events_deleted: int
    event_files_rewritten: int
    audit_records_redacted: int
    households_deleted: int
    rows_deleted: dict[str, int]
    scrub: dict[str, Any]


def _check_not_merged_away(patron: Patron) -> None:
    try:
        merge = apps.get_model("linkage", "Merge")
    except LookupError:
        merge = None
    merged_away = merge is not None and (
        merge.objects.filter(merged=patron, undone_at__isnull=True).exists()
    )
    if merged_away or event_store().manifest.resolve(patron.patron_key) != patron.patron_key:
        raise SubjectError(
            "patron",
            _(
                "this record was merged into another one; erase the record it was merged "
                "into, which erases this one too"
            ),
        )


def erase_patron(actor: Actor, patron: Patron, *, reason: str) -> ErasureReport:
    """Erase ``patron`` (and records merged into them) from both stores; see the module doc.

    The relational deletion, the audit redaction, the event store rewrite and the erasure's
    own audit record happen in one database transaction: if the event store cannot be
    rewritten nothing relational changes, and the erasure can be asked again.
    """
    if reason not in ErasureReason.values:
        raise SubjectError(
            "reason",
            _("must be one of: %(choices)s") % {"choices": ", ".join(ErasureReason.values)},
        )
    with transaction.atomic():
        patron = Patron.objects.select_for_update().get(pk=patron.pk)
        _check_not_merged_away(patron)
        people = [patron, *records_merged_into(patron)]
        keys = [p.patron_key for p in people]
        ids = [p.pk for p in people]
        households = {p.household_id for p in people if p.household_id is not None}
        identifiers = sum(p.identifiers.count() for p in people)
        redacted = sum(redact_audit_subject(key) for key in keys)
        try:
            _count, by_model = Patron.objects.filter(pk__in=ids).delete()
        except ProtectedError as exc:
            raise SubjectError(
                "patron",
                _("other records still depend on this patron: %(what)s")
                % {"what": ", ".join(sorted({o._meta.label for o in exc.protected_objects}))},
            ) from None
        orphans = Household.objects.filter(pk__in=households, members__isnull=True)
        households_deleted, _by_model = orphans.delete()
        deleted = rewritten = 0
        for key in keys:
            if event_store().manifest.resolve(key) != key:
                continue  # an alias of the survivor: erased with the survivor's events
            report = erase_patron_events(key)
            deleted += report.rows_deleted
            rewritten += len(report.files_rewritten)
        record_audit_event(
            actor,
            AuditAction.ERASE_PATRON,
            target="",
            detail={
                "reason": reason,
                "records": len(people),
                "identifiers": identifiers,
                "events_deleted": deleted,
                "audit_records_redacted": redacted,
            },
        )
    for key in keys:
        for receiver, response in patron_erased.send_robust(sender=Patron, patron_key=key):
            if isinstance(response, Exception):
                logger.error(
                    "a patron_erased receiver failed (%s): %s",
                    getattr(receiver, "__qualname__", receiver),
                    type(response).__name__,
                )
    scrub = scrub_after_erasure()
    return ErasureReport(
        records=len(people),
        identifiers=identifiers,
        events_deleted=deleted,
        event_files_rewritten=rewritten,
        audit_records_redacted=redacted,
        households_deleted=households_deleted,
        rows_deleted={k: v for k, v in by_model.items() if v},
        scrub=scrub,
    )
