"""The patron portal's pages: sign in and out, password links, "my data" and "my consents".

Whose record a page shows or changes is always the signed-in patron from the portal session;
no form carries a patron id, and a request that names another patron is refused and audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.consent.errors import ConsentError
from libcrm.consent.models import ConsentVia
from libcrm.consent.selectors import (
    ConsentState,
    children_in_care,
    consent_history,
    consents_of,
    patron_is_child,
)
from libcrm.consent.services import set_consent
from libcrm.patrons.models import Patron
from libcrm.portal import selectors, services
from libcrm.portal.errors import PortalError, ResetLinkRefused
from libcrm.portal.forms import ConsentForm, PasswordLinkForm, SetPasswordForm, SignInForm
from libcrm.portal.session import (
    end_portal_session,
    portal_login_required,
    portal_patron,
    start_portal_session,
)
from libcrm.privacy.actors import client_ip
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.segments.personas import show_persona
from libcrm.segments.selectors import segments_of

#: Request fields that would name a patron; portal forms never send one.
PATRON_FIELDS = ("patron", "patron_id", "patron_key", "patron_uuid", "uuid", "guardian")


def _optional_url(name: str) -> str | None:
    """Pages other apps add to the portal (export, erasure) appear once they exist."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _portal_context(patron: Patron | None, **extra: Any) -> dict[str, Any]:
    return {
        "portal_patron": patron,
        "export_url": _optional_url("portal:export"),
        "erase_url": _optional_url("portal:erase"),
        **extra,
    }


def _next_page(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return reverse("portal:my-data")


# --- signing in and out -------------------------------------------------------------------------


@never_cache
def signin(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            result = services.sign_in_patron(
                form.cleaned_data["card"], form.cleaned_data["password"], ip=client_ip(request)
            )
            if result.patron is not None:
                start_portal_session(request, result.patron)
                return redirect(_next_page(request))
        # One answer for every failure: unknown card, no account, wrong password, too many tries.
        form = SignInForm(initial={"card": request.POST.get("card", "")[:64]})
        form.failed = True  # type: ignore[attr-defined]
    else:
        form = SignInForm()
    return render(
        request,
        "portal/signin.html",
        _portal_context(
            None, form=form, next=request.POST.get("next") or request.GET.get("next", "")
        ),
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    patron = portal_patron(request)
    if patron is not None:
        services.record_signed_out(patron, ip=client_ip(request))
    end_portal_session(request)
    messages.info(request, _("You have signed out."))
    return redirect("portal:signin")


# --- password links -----------------------------------------------------------------------------


@never_cache
def forgot_password(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PasswordLinkForm(request.POST)
        if form.is_valid():
            services.request_password_link(
                form.cleaned_data["card_or_email"],
                ip=client_ip(request),
                base_url=request.build_absolute_uri("/"),
            )
            return render(request, "portal/link_sent.html", _portal_context(None))
    else:
        form = PasswordLinkForm()
    return render(request, "portal/forgot_password.html", _portal_context(None, form=form))


def _link_refused(request: HttpRequest, exc: ResetLinkRefused) -> HttpResponse:
    if exc.outcome == "expired":
        problem = _(
            "This link has expired. Links work for a limited time; ask for a new one below."
        )
    elif exc.outcome == "used":
        problem = _(
            "This link has already been used (or a newer one was sent, or you signed in since). "
            "Each link works only once; ask for a new one below."
        )
    else:
        problem = _(
            "This link is not valid: it was not issued by the library or it was changed. "
            "Copy the whole link from the e-mail, or ask for a new one below."
        )
    return render(
        request,
        "portal/link_refused.html",
        _portal_context(None, problem=problem, form=PasswordLinkForm()),
        status=400,
    )


@never_cache
def set_password(request: HttpRequest, token: str) -> HttpResponse:
    ip = client_ip(request)
    if request.method != "POST":
        try:
            services.check_password_link(token, ip=ip)
        except ResetLinkRefused as exc:
            return _link_refused(request, exc)
        return render(
            request, "portal/set_password.html", _portal_context(None, form=SetPasswordForm())
        )
    form = SetPasswordForm(request.POST)
    if form.is_valid():
        try:
            services.set_password_from_link(token, form.cleaned_data["password1"], ip=ip)
        except ResetLinkRefused as exc:
            return _link_refused(request, exc)
        except PortalError as exc:
            form.add_error("password1", exc.message)
        else:
            messages.success(
                request, _("Your password is set. Sign in with your library card number.")
            )
            return redirect("portal:signin")
    return render(request, "portal/set_password.html", _portal_context(None, form=form))


# --- the patron's own data ----------------------------------------------------------------------


@portal_login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:my-data")


@portal_login_required
def my_data(request: HttpRequest) -> HttpResponse:
    patron: Patron = request.portal_patron  # type: ignore[attr-defined]
    actor = services.portal_actor(client_ip(request), patron)
    record_audit_event(
        actor,
        AuditAction.VIEW_PATRON,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"via": "portal", "part": "my_data"},
    )
    memberships = segments_of(patron.patron_key)
    return render(
        request,
        "portal/my_data.html",
        _portal_context(
            patron,
            identifiers=selectors.masked_identifiers(patron),
            history=selectors.history_summary(patron),
            consents=consents_of(patron),
            account=selectors.portal_account(patron),
            age=patron.age_on(timezone.localdate()),
            memberships=memberships,
            persona=show_persona(actor, patron, memberships),
        ),
    )


def _names_another_patron(request: HttpRequest, patron: Patron) -> str | None:
    """The first request field that names a patron other than the signed-in one."""
    own = {str(patron.pk), str(patron.uuid), patron.patron_key}
    for name in PATRON_FIELDS:
        for value in request.POST.getlist(name) + request.GET.getlist(name):
            if value.strip() not in own:
                return name
    return None


def _refuse(request: HttpRequest, patron: Patron, field: str, reason: str) -> HttpResponse:
    record_audit_event(
        services.portal_actor(client_ip(request), patron),
        AuditAction.DENIED,
        patron=patron,
        target="portal:consents",
        detail={"reason": reason, "field": field},
    )
    return render(
        request,
        "portal/refused.html",
        _portal_context(
            patron,
            problem=_(
                "You can only change your own consents, or those of a child under 14 in your "
                "care. Nothing was changed."
            ),
        ),
        status=403,
    )


def _with_wording(states: list[ConsentState], language: str) -> list[tuple[ConsentState, str]]:
    rows = []
    for state in states:
        wording = state.latest or state.wording
        rows.append((state, wording.text(language) if wording is not None else ""))
    return rows


@portal_login_required
def my_consents(request: HttpRequest) -> HttpResponse:
    """The patron's choices, and — for a guardian or head of household — those of the children
    under 14 in their care, found from the patron's own household, never from the request."""
    patron: Patron = request.portal_patron  # type: ignore[attr-defined]
    ip = client_ip(request)
    language = get_language() or "en"
    children = children_in_care(patron)
    error = ""
    if request.method == "POST":
        tampered = _names_another_patron(request, patron)
        if tampered is not None:
            return _refuse(request, patron, tampered, "names another patron")
        subject, guardian = patron, None
        if "child" in request.POST:
            wanted = request.POST.get("child", "")
            subject = next((c for c in children if str(c.uuid) == wanted), None)
            if subject is None:
                return _refuse(request, patron, "child", "not a child in the patron's care")
            guardian = patron
        form = ConsentForm(request.POST)
        if form.is_valid():
            try:
                set_consent(
                    services.portal_actor(ip, patron),
                    subject,
                    form.cleaned_data["purpose"],
                    form.cleaned_data["granted"],
                    via=ConsentVia.PORTAL,
                    guardian=guardian,
                )
            except ConsentError as exc:
                error = exc.message
            else:
                messages.success(request, _("Your choice is saved."))
                return redirect("portal:consents")
        else:
            error = _("Choose a purpose and yes or no.")
    return render(
        request,
        "portal/my_consents.html",
        _portal_context(
            patron,
            consents=_with_wording(consents_of(patron), language),
            history=list(consent_history(patron)[:100]),
            child=patron_is_child(patron),
            children=[(c, _with_wording(consents_of(c), language)) for c in children],
            error=error,
        ),
        status=400 if error else 200,
    )
