"""Importing a CSV or XLSX file in the console: upload, map the columns, preview, import.

Each step is its own page addressed by the upload's id; the file and the choices made so far
live in the upload's private folder (:mod:`.uploads`), the session only lists the ids this
session uploaded. The import itself is the ingestion pipeline's (:mod:`.importing`); this
module only walks the librarian to it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.console.events_views import importing, uploads
from libcrm.console.events_views.forms import MappingForm, UploadForm, mapping_from
from libcrm.console.events_views.preview import PREVIEW_ROWS, mapped_preview
from libcrm.console.events_views.uploads import PrivateUploadHandler, Upload
from libcrm.events.connectors import tabular
from libcrm.ingest.models import RunStatus
from libcrm.privacy.actors import Actor
from libcrm.staff.roles import IMPORT_EVENTS

ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GBK / GB18030"}


def _upload_or_404(request: HttpRequest, upload_id: str) -> Upload:
    user: Any = request.user
    upload = uploads.load_upload(upload_id, user.pk)
    if upload is None or not uploads.in_session(request.session, upload_id):
        raise Http404
    return upload


def _too_large_message(size: int) -> str:
    return _(
        "The file is %(size)s; files of at most %(limit)s can be imported here. Split it into "
        "smaller files, or ask an administrator to import it with the libcrm ingest command."
    ) % {
        "size": filesizeformat(size),
        "limit": filesizeformat(settings.LIBCRM_UPLOAD_MAX_BYTES),
    }


@never_cache
@csrf_exempt  # checked by _receive, once the upload handler below is in place
@permission_required(IMPORT_EVENTS)
def upload_start(request: HttpRequest) -> HttpResponse:
    """Step 1: the file. It streams into a private folder and is refused past the limit."""
    if request.method == "POST":
        user: Any = request.user
        handler = PrivateUploadHandler(request, user.pk)
        request.upload_handlers = [handler]
        response = _receive(request, handler)
        if response.status_code == 403 and handler.upload is not None:
            uploads.discard(handler.upload)  # refused by the CSRF check, after it read the file
        return response
    return render(request, "events/upload_start.html", _start_context(UploadForm()))


def _start_context(form: UploadForm) -> dict[str, Any]:
    return {"form": form, "limit": settings.LIBCRM_UPLOAD_MAX_BYTES, "step": 1}


@csrf_protect
def _receive(request: HttpRequest, handler: PrivateUploadHandler) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if handler.too_large:
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", _too_large_message(handler.too_large))
    elif form.is_valid() and handler.upload is not None:
        upload = handler.upload
        upload.source = form.cleaned_data["source"]
        upload.save()
        uploads.remember(request.session, upload)
        return redirect("console:events-upload-mapping", upload_id=upload.id)
    if handler.upload is not None:
        uploads.discard(handler.upload)
    return render(request, "events/upload_start.html", _start_context(form), status=400)


@never_cache
@permission_required(IMPORT_EVENTS)
def upload_mapping(request: HttpRequest, upload_id: str) -> HttpResponse:
    """Step 2: which column holds what; the file's headers and first rows beside the form."""
    upload = _upload_or_404(request, upload_id)
    sheet = upload.mapping.get("sheet") or request.GET.get("sheet") or None
    sample = tabular.preview(upload.path, n=5, sheet=sheet)
    form = MappingForm(
        request.POST or None,
        headers=sample.headers,
        sheets=sample.sheets,
        initial=MappingForm.initial_from(sample.suggested, upload.mapping),
    )
    if request.method == "POST" and form.is_valid():
        upload.mapping = form.choices()
        upload.save()
        return redirect("console:events-upload-preview", upload_id=upload.id)
    return render(
        request,
        "events/upload_mapping.html",
        {
            "upload": upload,
            "sample": sample,
            "encoding": ENCODING_LABELS.get(sample.encoding or "", sample.encoding),
            "form": form,
            "step": 2,
        },
        status=400 if form.errors else 200,
    )


@never_cache
@permission_required(IMPORT_EVENTS)
def upload_preview(request: HttpRequest, upload_id: str) -> HttpResponse:
    """Step 3: the first rows as they would be imported, problems highlighted."""
    upload = _upload_or_404(request, upload_id)
    if not upload.mapping:
        return redirect("console:events-upload-mapping", upload_id=upload.id)
    preview = mapped_preview(
        upload.path,
        source=upload.source,
        tz=upload.mapping.get("time_zone") or settings.TIME_ZONE,
        mapping=mapping_from(upload.mapping),
    )
    return render(
        request,
        "events/upload_preview.html",
        {
            "upload": upload,
            "preview": preview,
            "rows_shown": PREVIEW_ROWS,
            "time_zone": upload.mapping.get("time_zone") or settings.TIME_ZONE,
            "step": 3,
        },
    )


@never_cache
@require_POST
@permission_required(IMPORT_EVENTS)
def upload_import(request: HttpRequest, upload_id: str) -> HttpResponse:
    """Step 4: the import, through the ingestion pipeline; then the run's page."""
    upload = _upload_or_404(request, upload_id)
    if not upload.mapping:
        return redirect("console:events-upload-mapping", upload_id=upload.id)
    try:
        run = importing.import_upload(Actor.from_request(request), upload)
    except importing.ImportRefused as exc:
        messages.error(request, capfirst(str(exc)))
        return redirect("console:events-upload-preview", upload_id=upload.id)
    uploads.discard(upload)
    if run.status == RunStatus.COMPLETED:
        messages.success(request, _("The file has been imported."))
    else:
        messages.error(request, _("The import stopped before the end of the file; see below."))
    return redirect("console:events-run", run_id=run.pk)


@never_cache
@require_POST
@permission_required(IMPORT_EVENTS)
def upload_cancel(request: HttpRequest, upload_id: str) -> HttpResponse:
    uploads.discard(_upload_or_404(request, upload_id))
    messages.info(request, _("The upload has been discarded."))
    return redirect("console:events-upload")
