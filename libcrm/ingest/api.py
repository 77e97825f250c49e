"""The ingestion endpoint: NDJSON batches of interaction events from machine clients.

``POST /api/v1/events/ndjson`` with ``Content-Type: application/x-ndjson`` (``Content-Encoding:
gzip`` or a gzip body are both accepted), scope ``events:write``. Good lines land even when
others are refused; the answer lists the first rejects and the run id whose full reject report
staff can download in the console. Bodies up to ``LIBCRM_INGEST_MAX_BODY_BYTES``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from libcrm.api.auth import TokenAuth, token_actor
from libcrm.api.errors import ApiError, FieldError
from libcrm.api.models import Scope
from libcrm.api.schemas import ErrorOut
from libcrm.events.connectors.base import check_source
from libcrm.ingest.models import RunStatus
from libcrm.ingest.selectors import reject_report
from libcrm.ingest.services import BodyTooLarge, ingest_stream

router = Router()


class RejectOut(Schema):
    line: int
    field: str
    reason: str


class IngestionOut(Schema):
    run_id: str
    status: str
    received: int
    added: int
    duplicates: int
    rejected: int
    provisional_patrons: int
    rejects: list[RejectOut]
    rejects_truncated: bool


@router.post(
    "/ndjson",
    auth=TokenAuth(Scope.EVENTS_WRITE),
    response={
        200: IngestionOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    summary="Import interaction events (NDJSON, optionally gzip)",
)
def ingest_ndjson(request: HttpRequest, source: str) -> Status:
    """One JSON object per line in libcrm's raw event format (see docs/events.md); ``source``
    names the sending system (e.g. ``wechat-bridge``) and scopes the events' ids."""
    try:
        check_source(source)
    except ValueError as exc:
        raise ApiError(
            422,
            "invalid",
            _("Some fields are not valid; see fields."),
            [FieldError("query.source", str(exc))],
        ) from None
    try:
        run = ingest_stream(
            token_actor(request),
            request,
            format="ndjson",
            source=source,
            file_name=f"api-{source}.ndjson",
            max_bytes=settings.LIBCRM_INGEST_MAX_BODY_BYTES,
        )
    except BodyTooLarge as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from None
    if run.status == RunStatus.FAILED:
        raise ApiError(400, "unreadable", run.error or _("The body could not be read."))
    first: list[RejectOut] = []
    path = reject_report(run)
    if path is not None:
        import csv

        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                first.append(
                    RejectOut(line=int(row["line"] or 0), field=row["field"], reason=row["reason"])
                )
                if len(first) == 100:
                    break
    return Status(
        200,
        IngestionOut(
            run_id=str(run.pk),
            status=run.status,
            received=run.received,
            added=run.added,
            duplicates=run.duplicates,
            rejected=run.rejected,
            provisional_patrons=run.provisional,
            rejects=first,
            rejects_truncated=run.rejected > len(first),
        ),
    )
