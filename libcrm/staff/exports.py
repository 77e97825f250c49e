"""Bulk exports of personal data under the two-person rule: one staff member asks, another
who holds ``staff.approve_export`` approves, and the first downloads the file once, within a
day of the approval, after proving their identity again.

The file is built when it is downloaded and never stored. Every step is audited: ``EXPORT``
when asked for, ``APPROVE_EXPORT`` when approved or rejected, ``EXPORT`` with the row count when
downloaded.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.patrons.identifiers import IdentifierKind
from libcrm.patrons.models import Identifier
from libcrm.patrons.selectors import PatronFilters, search_patrons
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.models import ExportKind, ExportRequest, ExportStatus
from libcrm.staff.roles import APPROVE_EXPORT, VIEW_PERSONAL
from libcrm.staff.services import StaffError

# The list filters an export may carry (codes, never personal data); the search text is apart.
PATRON_LIST_FILTERS = ("category", "status", "department", "home_branch")
OPEN = (ExportStatus.REQUESTED, ExportStatus.APPROVED)


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: str
    rows: int


def _valid_for() -> timedelta:
    return timedelta(hours=settings.LIBCRM_EXPORT_VALID_HOURS)


def expire_exports() -> int:
    """Mark requests and approvals older than the validity period as expired."""
    return ExportRequest.objects.filter(status__in=OPEN, expires_at__lt=timezone.now()).update(
        status=ExportStatus.EXPIRED
    )


def visible_exports(user: Any) -> QuerySet[ExportRequest]:
    """Approvers see every request; others their own."""
    requests = ExportRequest.objects.select_related("requested_by", "decided_by")
    if user.has_perm(APPROVE_EXPORT):
        return requests
    return requests.filter(Q(requested_by=user))


@transaction.atomic
def request_export(
    actor: Actor,
    user: Any,
    *,
    kind: str,
    parameters: dict[str, str],
    reason: str,
    search_text: str = "",
) -> ExportRequest:
    if not user.has_perm(VIEW_PERSONAL):
        raise StaffError("kind", _("your role cannot see personal data, so it cannot export it"))
    if kind not in ExportKind.values:
        raise StaffError("kind", _("must be one of: %(choices)s") % {"choices": ExportKind.values})
    unknown = sorted(set(parameters) - set(PATRON_LIST_FILTERS))
    if unknown:
        raise StaffError(
            "parameters", _("unknown filters: %(names)s") % {"names": ", ".join(unknown)}
        )
    reason = reason.strip()
    if not reason:
        raise StaffError("reason", _("say why the export is needed"))
    export = ExportRequest.objects.create(
        kind=kind,
        parameters={k: str(v) for k, v in parameters.items() if v},
        search_text=search_text.strip(),
        requested_by=user,
        reason=reason[:200],
        expires_at=timezone.now() + _valid_for(),
    )
    record_audit_event(
        actor,
        AuditAction.EXPORT,
        target=f"export:{export.pk}",
        detail={
            "stage": "requested",
            "kind": kind,
            "filters": sorted(export.parameters),
            "searched": bool(export.search_text),
        },
    )
    return export


def _open_request(pk: int) -> ExportRequest:
    export = ExportRequest.objects.select_for_update().filter(pk=pk).first()
    if export is None:
        raise StaffError("export", _("no such export request"))
    if export.status in OPEN and export.expires_at < timezone.now():
        export.status = ExportStatus.EXPIRED
        export.save(update_fields=["status"])
    return export


def _decide(actor: Actor, approver: Any, pk: int, approve: bool) -> ExportRequest:
    export = _open_request(pk)
    if not approver.has_perm(APPROVE_EXPORT):
        raise StaffError("approver", _("your role cannot approve exports"))
    if export.requested_by_id == approver.pk:
        raise StaffError(
            "approver", _("a second person must approve: you cannot decide on your own request")
        )
    if export.status != ExportStatus.REQUESTED:
        raise StaffError(
            "status",
            _("this request is %(status)s, not waiting for approval")
            % {"status": export.get_status_display().lower()},
        )
    now = timezone.now()
    export.status = ExportStatus.APPROVED if approve else ExportStatus.REJECTED
    export.decided_by, export.decided_at = approver, now
    if approve:
        export.expires_at = now + _valid_for()
    export.save()
    record_audit_event(
        actor,
        AuditAction.APPROVE_EXPORT,
        target=f"export:{export.pk}",
        detail={"decision": "approved" if approve else "rejected", "kind": export.kind},
    )
    return export


@transaction.atomic
def approve_export(actor: Actor, approver: Any, pk: int) -> ExportRequest:
    return _decide(actor, approver, pk, approve=True)


@transaction.atomic
def reject_export(actor: Actor, approver: Any, pk: int) -> ExportRequest:
    return _decide(actor, approver, pk, approve=False)


@transaction.atomic
def download_export(actor: Actor, user: Any, pk: int) -> ExportFile:
    """Build the file for an approved request, once, for the person who asked."""
    export = _open_request(pk)
    if export.requested_by_id != user.pk:
        raise StaffError("export", _("only the person who asked for this export can download it"))
    if not user.has_perm(VIEW_PERSONAL):
        raise StaffError("export", _("your role can no longer see personal data"))
    if export.status != ExportStatus.APPROVED:
        raise StaffError(
            "status",
            _("this export is %(status)s; only an approved export can be downloaded, once")
            % {"status": export.get_status_display().lower()},
        )
    content, rows = patron_list_csv(export.parameters, export.search_text)
    export.status = ExportStatus.DOWNLOADED
    export.downloaded_at, export.row_count = timezone.now(), rows
    export.save(update_fields=["status", "downloaded_at", "row_count"])
    record_audit_event(
        actor,
        AuditAction.EXPORT,
        target=f"export:{export.pk}",
        detail={"stage": "downloaded", "kind": export.kind, "rows": rows},
    )
    stamp = timezone.localtime(export.downloaded_at).strftime("%Y%m%d-%H%M")
    return ExportFile(f"libcrm-patrons-{export.pk}-{stamp}.csv", content, rows)


_PHONE = re.compile(r"\+?[0-9 ]+")


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula (CSV injection); a phone
    # number in international form (+86…) is only digits and stays as it is.
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PHONE.fullmatch(value):
        return f"'{value}"
    return value


def patron_list_csv(parameters: dict[str, str], search_text: str = "") -> tuple[str, int]:
    """The patron list for these filters as CSV: identifiers masked, e-mail and phone in full."""
    filters = PatronFilters(
        query=search_text, **{k: parameters.get(k, "") for k in PATRON_LIST_FILTERS}
    )
    shown = Identifier.objects.filter(
        kind__in=[
            IdentifierKind.LIBRARY_CARD,
            IdentifierKind.CAMPUS_ID,
            IdentifierKind.EMAIL,
            IdentifierKind.PHONE,
        ]
    )
    patrons = search_patrons(filters).prefetch_related(
        Prefetch("identifiers", queryset=shown, to_attr="exported_identifiers")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["name", "category", "department", "status", "library_card", "campus_id", "email", "phone"]
    )
    rows = 0
    for patron in patrons.iterator(chunk_size=500):
        by_kind: dict[str, list[str]] = {}
        for identifier in patron.exported_identifiers:
            full = identifier.kind in (IdentifierKind.EMAIL, IdentifierKind.PHONE)
            shown_value = (identifier.value or "") if full else identifier.masked
            by_kind.setdefault(identifier.kind, []).append(shown_value)
        writer.writerow(
            [
                # Not the patron_key: beside names it would undo the pseudonyms of the analytics.
                _cell(patron.name),
                patron.get_category_display(),
                _cell(str(patron.department) if patron.department else ""),
                patron.get_status_display(),
                *(
                    _cell("; ".join(by_kind.get(kind, [])))
                    for kind in ("library_card", "campus_id", "email", "phone")
                ),
            ]
        )
        rows += 1
    return out.getvalue(), rows
