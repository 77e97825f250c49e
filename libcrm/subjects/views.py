"""Pages of data-subject requests and retention: the patron page's Privacy panel leads here
(export, correct, erase — exports and erasure ask for a fresh proof of identity), the
administrators' retention page, and the portal's "download my data" and "erase me" pages.
Thin: every write goes through :mod:`libcrm.subjects.services` or :mod:`.retention`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from libcrm.console.access import permission_required
from libcrm.patrons.errors import PatronError
from libcrm.patrons.forms import PatronForm, add_problems
from libcrm.patrons.models import Patron
from libcrm.patrons.selectors import get_patron
from libcrm.patrons.services import record_patron_viewed
from libcrm.patrons.validation import PATRON_FIELDS
from libcrm.privacy.actors import Actor, client_ip
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.reauth import reauth_required
from libcrm.staff.roles import (
    CHANGE_PATRON,
    ERASE_SUBJECT,
    EXPORT_SUBJECT,
    MANAGE_RETENTION,
    VIEW_PERSONAL,
)
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.forms import ErasureForm, PortalErasureForm, RetentionPolicyForm
from libcrm.subjects.models import RetentionPolicy
from libcrm.subjects.retention import (
    POLICY_FIELDS,
    apply_retention_policies,
    save_retention_policy,
)
from libcrm.subjects.services import SubjectExport, correct_patron, erase_patron, export_subject


def _patron_or_404(uuid: UUID) -> Patron:
    patron = get_patron(uuid)
    if patron is None:
        raise Http404
    return patron


def _download(export: SubjectExport) -> HttpResponse:
    response = HttpResponse(export.archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@permission_required(VIEW_PERSONAL, EXPORT_SUBJECT)
@reauth_required
def patron_export(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Asks first (GET); the POST answers with the ZIP."""
    patron = _patron_or_404(uuid)
    actor = Actor.from_request(request)
    if request.method == "POST":
        return _download(export_subject(actor, patron))
    record_patron_viewed(actor, patron)
    return render(request, "subjects/export_confirm.html", {"patron": patron})


@never_cache
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def patron_correct(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """The patron asked for their data to be corrected: the edit form, audited as their
    request (``CORRECT_PATRON``)."""
    patron = _patron_or_404(uuid)
    actor = Actor.from_request(request)
    if request.method == "POST":
        form = PatronForm(request.POST)
        if form.is_valid():
            try:
                changed = correct_patron(actor, patron, form.patron_fields())
            except PatronError as exc:
                add_problems(form, exc.problems)
            else:
                if changed:
                    messages.success(request, _("The correction has been saved."))
                else:
                    messages.info(request, _("Nothing was different; nothing was changed."))
                return redirect("console:patron-detail", uuid=patron.uuid)
    else:
        form = PatronForm(initial={key: getattr(patron, key) for key in PATRON_FIELDS})
    record_patron_viewed(actor, patron)
    return render(request, "subjects/correct_form.html", {"form": form, "patron": patron})


@never_cache
@permission_required(VIEW_PERSONAL, ERASE_SUBJECT)
@reauth_required
def patron_erase(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = _patron_or_404(uuid)
    actor = Actor.from_request(request)
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            report = erase_patron(actor, patron, reason=form.cleaned_data["reason"])
        except SubjectError as exc:
            form.add_error(None, capfirst(exc.message))
        else:
            messages.success(
                request,
                _(
                    "The patron has been erased: %(records)d record(s), %(identifiers)d "
                    "identifier(s) and %(events)d event(s) deleted."
                )
                % {
                    "records": report.records,
                    "identifiers": report.identifiers,
                    "events": report.events_deleted,
                },
            )
            return redirect("console:patron-list")
    record_patron_viewed(actor, patron)
    return render(request, "subjects/erase_confirm.html", {"patron": patron, "form": form})


# ---- retention ------------------------------------------------------------------------------


def _policy_initial(policy: RetentionPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


@never_cache
@permission_required(MANAGE_RETENTION)
def retention(request: HttpRequest) -> HttpResponse:
    """The policies, the last runs, and "run now" (or a dry run) with its report."""
    report = None
    if request.method == "POST":
        dry_run = request.POST.get("dry_run") == "1"
        try:
            report = apply_retention_policies(Actor.from_request(request), dry_run=dry_run)
        except (SubjectError, ValueError) as exc:
            messages.error(request, str(exc))
    runs = AuditEvent.objects.filter(action=AuditAction.RETENTION_RUN, target="events")[:10]
    return render(
        request,
        "subjects/retention.html",
        {
            "policies": RetentionPolicy.objects.order_by("name"),
            "report": report,
            "runs": runs,
        },
    )


@never_cache
@permission_required(MANAGE_RETENTION)
def retention_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    policy = None
    if pk is not None:
        policy = RetentionPolicy.objects.filter(pk=pk).first()
        if policy is None:
            raise Http404
    initial = _policy_initial(policy) if policy else {"enabled": True, "action": "anonymise"}
    form = RetentionPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            save_retention_policy(Actor.from_request(request), policy, form.cleaned_data)
        except SubjectError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, capfirst(exc.message))
        else:
            messages.success(request, _("The retention policy has been saved."))
            return redirect("subjects:retention")
    return render(request, "subjects/retention_form.html", {"form": form, "policy": policy})


# ---- portal ---------------------------------------------------------------------------------


def _portal_patron(request: HttpRequest) -> Patron:
    return request.portal_patron  # type: ignore[attr-defined]


def _portal_login_required(view: Any) -> Any:
    from libcrm.portal.session import portal_login_required

    return portal_login_required(view)


@_portal_login_required
def portal_export(request: HttpRequest) -> HttpResponse:
    """The signed-in patron downloads everything the library holds about them."""
    from libcrm.portal.services import portal_actor

    patron = _portal_patron(request)
    if request.method == "POST":
        return _download(export_subject(portal_actor(client_ip(request), patron), patron))
    return render(request, "subjects/portal_export.html", {"portal_patron": patron})


@_portal_login_required
def portal_erase(request: HttpRequest) -> HttpResponse:
    """The signed-in patron erases themselves, after typing their password again."""
    from libcrm.portal.models import PortalAccount
    from libcrm.portal.services import HASHER, portal_actor
    from libcrm.portal.session import end_portal_session

    patron = _portal_patron(request)
    form = PortalErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = PortalAccount.objects.filter(patron=patron).first()
        if account is None or not (
            account.password.startswith(f"{HASHER.algorithm}$")
            and HASHER.verify(form.cleaned_data["password"], account.password)
        ):
            form.add_error("password", _("This is not your password."))
        else:
            actor = portal_actor(client_ip(request), patron)
            try:
                erase_patron(actor, patron, reason="patron_request")
            except SubjectError as exc:
                form.add_error(None, capfirst(exc.message))
            else:
                end_portal_session(request)
                return render(request, "subjects/portal_erased.html", {"portal_patron": None})
    return render(request, "subjects/portal_erase.html", {"portal_patron": patron, "form": form})
