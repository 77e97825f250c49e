"""Console pages for bulk exports of personal data (two-person rule, see
:mod:`libcrm.staff.exports`): ask from the patron list, approve or reject, download once."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.patrons.forms import PatronSearchForm
from libcrm.privacy.actors import Actor
from libcrm.staff import exports
from libcrm.staff.forms import ExportRequestForm
from libcrm.staff.models import ExportKind, ExportStatus
from libcrm.staff.reauth import reauth_required
from libcrm.staff.roles import APPROVE_EXPORT, VIEW_PERSONAL
from libcrm.staff.services import StaffError

# The patron list's query parameters (its form's names) → the export's filter names.
LIST_PARAMETERS = {
    "category": "category",
    "status": "status",
    "department": "department",
    "branch": "home_branch",
}


def _list_filters(request: HttpRequest) -> tuple[dict[str, str], str, dict[str, Any]]:
    """The patron list's current filters (validated by its own form), the search text it names
    through the session (never in the URL), and labels to show."""
    source = request.POST if request.method == "POST" else request.GET
    data = {name: source.get(name, "") for name in LIST_PARAMETERS}
    search = ""
    token = source.get("s", "")
    if token:
        search = request.session.get("patron_searches", {}).get(token, "")
    form = PatronSearchForm(data)
    found = form.filters()
    parameters = {LIST_PARAMETERS[name]: found[LIST_PARAMETERS[name]] for name in LIST_PARAMETERS}
    parameters = {k: v for k, v in parameters.items() if v}
    labels = {
        str(form.fields[name].label): source.get(name)
        for name in LIST_PARAMETERS
        if parameters.get(LIST_PARAMETERS[name])
    }
    return parameters, search, {"labels": labels, "passed": {**data, "s": token}}


@never_cache
@permission_required(VIEW_PERSONAL, APPROVE_EXPORT, any_of=True)
def export_list(request: HttpRequest) -> HttpResponse:
    exports.expire_exports()
    page = Paginator(exports.visible_exports(request.user), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/export_list.html",
        {
            "page": page,
            "can_approve": request.user.has_perm(APPROVE_EXPORT),
            "statuses": ExportStatus,
        },
    )


@never_cache
@permission_required(VIEW_PERSONAL)
def export_new(request: HttpRequest) -> HttpResponse:
    parameters, search, shown = _list_filters(request)
    form = ExportRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            export = exports.request_export(
                Actor.from_request(request),
                request.user,
                kind=ExportKind.PATRON_LIST,
                parameters=parameters,
                search_text=search,
                reason=form.cleaned_data["reason"],
            )
        except StaffError as exc:
            form.add_error("reason" if exc.field == "reason" else None, capfirst(exc.message))
        else:
            messages.success(
                request,
                _(
                    "Export request %(number)s is waiting for a second person to approve it. "
                    "You can download it here once approved."
                )
                % {"number": export.pk},
            )
            return redirect("console:staff-exports")
    return render(
        request,
        "staff/export_new.html",
        {"form": form, "searched": bool(search), **shown},
    )


def _decision(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    decide = exports.approve_export if approve else exports.reject_export
    try:
        export = decide(Actor.from_request(request), request.user, pk)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
    else:
        message = (
            _("Export request %(number)s approved: its requester can download it once.")
            if approve
            else _("Export request %(number)s rejected.")
        )
        messages.success(request, message % {"number": export.pk})
    return redirect("console:staff-exports")


@require_POST
@permission_required(APPROVE_EXPORT)
@reauth_required
def export_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(request, pk, approve=True)


@require_POST
@permission_required(APPROVE_EXPORT)
def export_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(request, pk, approve=False)


@require_POST
@permission_required(VIEW_PERSONAL)
@reauth_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        built = exports.download_export(Actor.from_request(request), request.user, pk)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
        return redirect("console:staff-exports")
    # A byte-order mark so spreadsheet programs read the Chinese names as UTF-8.
    response = HttpResponse("\ufeff" + built.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{built.filename}"'
    response["Cache-Control"] = "no-store"
    return response
