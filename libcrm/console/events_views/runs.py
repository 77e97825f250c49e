"""The ingestion history: every import into the event store, its counts, its notices and its
reject report.

Runs hold counts, file names and who imported them, never event content, so every role that
sees the store sees them. The reject report names lines and fields of the source file, and a
reason may quote what was written there, so only those who may import may download it, and
each download is recorded in the audit trail.
"""

from __future__ import annotations

from uuid import UUID

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from libcrm.console.access import permission_required
from libcrm.ingest.models import IngestionRun
from libcrm.ingest.selectors import get_run, ingestion_runs, reject_report
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.roles import IMPORT_EVENTS, VIEW_EVENT_STORE, VIEW_PERSONAL

PAGE_SIZE = 50


def latest_run() -> IngestionRun | None:
    return ingestion_runs().first()


def _run_or_404(run_id: UUID) -> IngestionRun:
    run = get_run(run_id)
    if run is None:
        raise Http404
    return run


@permission_required(VIEW_EVENT_STORE)
def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(ingestion_runs(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "events/run_list.html",
        {"page": page, "can_import": request.user.has_perm(IMPORT_EVENTS)},
    )


@permission_required(VIEW_EVENT_STORE)
def run_detail(request: HttpRequest, run_id: UUID) -> HttpResponse:
    run = _run_or_404(run_id)
    return render(
        request,
        "events/run_detail.html",
        {
            "run": run,
            "has_report": reject_report(run) is not None,
            "can_download": request.user.has_perm(IMPORT_EVENTS),
            "can_review": request.user.has_perm(VIEW_PERSONAL),
            "can_import": request.user.has_perm(IMPORT_EVENTS),
        },
    )


@never_cache
@permission_required(IMPORT_EVENTS)
def run_rejects(request: HttpRequest, run_id: UUID) -> HttpResponse:
    """The reject report as a CSV download (UTF-8 with a byte-order mark, so Excel reads the
    Chinese in it); recorded in the audit trail."""
    run = _run_or_404(run_id)
    path = reject_report(run)
    if path is None:
        raise Http404
    record_audit_event(
        Actor.from_request(request),
        AuditAction.EXPORT,
        target=f"ingestion:{run.pk}",
        detail={"export": "reject_report", "rows": run.rejected, "source": run.source},
    )
    stem = (run.file_name.rsplit(".", 1)[0] or run.source)[:80]
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{stem}-rejects-{run.started_at:%Y%m%d-%H%M}.csv",
        content_type="text/csv; charset=utf-8",
    )
