"""Data-subject requests over HTTP, for a library's own front ends (a self-service kiosk, the
campus app): ``GET /api/v1/patrons/{uuid}/export`` and ``POST /api/v1/patrons/{uuid}/erase``.

A thin adapter over :mod:`libcrm.subjects.services`, acting as the calling token. The export
holds identifiers in full, so it needs ``patrons:read`` and ``patrons:reveal``; erasure needs
``patrons:erase``, a scope of its own that no other operation uses.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from libcrm.api.auth import TokenAuth, token_actor
from libcrm.api.errors import ApiError, FieldError, invalid
from libcrm.api.models import Scope
from libcrm.api.schemas import ERROR_RESPONSES
from libcrm.patrons.models import Patron
from libcrm.patrons.selectors import get_patron
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.models import ErasureReason
from libcrm.subjects.services import erase_patron, export_subject

router = Router()


class ErasureIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        description="Why: " + ", ".join(ErasureReason.values) + " (never free text)."
    )


class ErasureOut(Schema):
    records: int = Field(description="Patron records erased: this one and any merged into it.")
    identifiers: int
    events_deleted: int
    audit_records_redacted: int


def _patron_or_404(uuid: UUID) -> Patron:
    patron = get_patron(uuid)
    if patron is None:
        raise ApiError(404, "not_found", _("No patron has this id."))
    return patron


_ZIP: dict[str, Any] = {
    "responses": {
        200: {
            "description": "A ZIP archive: README.txt, patron.json, events.jsonl, events.parquet.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/{uuid:uuid}/export",
    auth=TokenAuth(Scope.PATRONS_READ, Scope.PATRONS_REVEAL),
    response={**ERROR_RESPONSES},
    openapi_extra=_ZIP,
    summary="Export everything about a patron",
)
def export_patron(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Needs `patrons:read` and `patrons:reveal`. The patron's whole record (identifiers in
    full), consents, access log and every event, as a ZIP (see README.txt inside). Audited."""
    export = export_subject(token_actor(request), _patron_or_404(uuid))
    response = HttpResponse(export.archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@router.post(
    "/{uuid:uuid}/erase",
    auth=TokenAuth(Scope.PATRONS_ERASE),
    response={200: ErasureOut, **ERROR_RESPONSES},
    summary="Erase a patron",
)
def erase_patron_api(request: HttpRequest, uuid: UUID, payload: ErasureIn) -> ErasureOut:
    """Needs `patrons:erase`. Deletes the patron (and records merged into them) from the
    registry and the event store; cannot be undone. The audit record holds no personal data;
    422 for a reason outside the list (nothing is changed)."""
    patron = _patron_or_404(uuid)
    try:
        report = erase_patron(token_actor(request), patron, reason=payload.reason)
    except SubjectError as exc:
        raise invalid([FieldError(f"body.{exc.field}", exc.message)]) from None
    return ErasureOut(
        records=report.records,
        identifiers=report.identifiers,
        events_deleted=report.events_deleted,
        audit_records_redacted=report.audit_records_redacted,
    )
