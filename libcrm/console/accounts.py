"""Sign-in, second factor, re-authentication and sign-out at /accounts/ (un-namespaced:
``login`` and ``logout``, as Django's ``LOGIN_URL`` and the auth views expect).

Sign-in takes two steps for every role that can see personal data: the password (throttled per
account and per address, :mod:`libcrm.staff.throttle`), then a code from an authenticator app or
a recovery code (:mod:`libcrm.staff.mfa`); an account without a second factor is sent to set one
up. Only then is the session *fully authenticated* (:mod:`libcrm.staff.middleware`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff import mfa, throttle
from libcrm.staff.forms import EnrolmentForm, ReauthenticationForm, SecondFactorForm
from libcrm.staff.models import AttemptStep, TotpDevice
from libcrm.staff.reauth import mark_authenticated, reauth_required
from libcrm.staff.roles import second_factor_required
from libcrm.staff.services import StaffError

SIGN_IN_FAILED = gettext_lazy(
    "Sign-in failed or is temporarily blocked. Check the username and password, or try again later."
)
CODE_FAILED = gettext_lazy(
    "That code was not accepted, or sign-in is temporarily blocked. Try the current code, or "
    "try again later."
)
# Set on a request whose sign-in is completed (and audited) by these views, not by the signal.
STAGED = "libcrm_staged_sign_in"


def _safe_next(request: HttpRequest, fallback: str = "console:home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(fallback)


def _with_next(route: str, next_url: str) -> str:
    return f"{reverse(route)}?{urlencode({'next': next_url})}"


def complete_sign_in(request: HttpRequest, how: str) -> None:
    """The session becomes fully authenticated: audited as ``LOGIN`` with how the second step
    was passed; the session key changes with the privilege."""
    user: Any = request.user
    request.session.cycle_key()
    mfa.mark_second_factor(request, how)
    mark_authenticated(request)
    actor = Actor.from_request(request)
    throttle.record_attempt(actor, user.get_username(), success=True)
    record_audit_event(
        actor, AuditAction.LOGIN, target=f"staff:{user.pk}", detail={"second_factor": how}
    )


class SignInForm(AuthenticationForm):
    """Django's sign-in form, throttled, with one answer for every failure: a wrong password,
    an unknown or deactivated account and a blocked attempt look the same."""

    error_messages = {"invalid_login": SIGN_IN_FAILED, "inactive": SIGN_IN_FAILED}

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        actor = Actor.from_request(self.request)
        if username and throttle.is_blocked(username, actor.ip):
            record_audit_event(actor, AuditAction.LOGIN_FAILED, detail={"blocked": True})
            raise forms.ValidationError(SIGN_IN_FAILED, code="invalid_login")
        try:
            # ModelBackend hashes the password even for an unknown username, so a miss costs
            # about as long as a wrong password.
            return super().clean()
        except forms.ValidationError:
            if username:
                throttle.record_attempt(actor, username, success=False)
            raise


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "console/login.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and mfa.fully_authenticated(request):
            return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        setattr(self.request, STAGED, True)
        login(self.request, user)
        next_url = self.get_success_url()
        if mfa.has_second_factor(user):
            return redirect(_with_next("mfa-verify", next_url))
        if second_factor_required(user):
            return redirect(_with_next("mfa-enrol", next_url))
        complete_sign_in(self.request, "not_required")
        return HttpResponseRedirect(next_url)


@never_cache
@sensitive_post_parameters("code")
@login_required
def second_factor(request: HttpRequest) -> HttpResponse:
    """The code step of sign-in (a TOTP code or a recovery code), throttled like passwords."""
    next_url = _safe_next(request)
    if mfa.fully_authenticated(request):
        return HttpResponseRedirect(next_url)
    user: Any = request.user
    if not mfa.has_second_factor(user):
        return redirect(_with_next("mfa-enrol", next_url))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        username = user.get_username()
        how = None
        if not throttle.is_blocked(username, actor.ip):
            how = mfa.verify_second_factor(actor, user, form.cleaned_data["code"])
        if how is not None:
            complete_sign_in(request, how)
            if how == "recovery_code":
                left = mfa.unused_recovery_codes(user)
                messages.warning(
                    request,
                    _(
                        "You used a recovery code; %(left)s left. Make new ones on the "
                        "sign-in security page."
                    )
                    % {"left": left},
                )
            return HttpResponseRedirect(next_url)
        throttle.record_attempt(actor, username, success=False, step=AttemptStep.SECOND_FACTOR)
        form.add_error(None, CODE_FAILED)
    return render(request, "staff/mfa_verify.html", {"form": form, "next": next_url})


@never_cache
@sensitive_post_parameters("code")
@login_required
def enrolment(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a code,
    receive the recovery codes once."""
    next_url = _safe_next(request)
    user: Any = request.user
    if mfa.has_second_factor(user):
        if not mfa.fully_authenticated(request):
            return redirect(_with_next("mfa-verify", next_url))
        messages.info(request, _("Two-factor sign-in is already set up for your account."))
        return redirect("account-security")
    device = TotpDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = mfa.begin_enrolment(user)
    form = EnrolmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.confirm_enrolment(
                Actor.from_request(request), user, form.cleaned_data["code"]
            )
        except StaffError as exc:
            form.add_error("code", capfirst(exc.message))
        else:
            if not mfa.fully_authenticated(request):
                complete_sign_in(request, "totp")
            request.session[mfa.NEW_CODES_KEY] = codes
            return redirect(_with_next("mfa-recovery-codes", next_url))
    uri = mfa.provisioning_uri(user, device.secret)
    return render(
        request,
        "staff/mfa_enrol.html",
        {
            "form": form,
            "next": next_url,
            # segno draws the SVG from the URI alone; nothing user-typed goes into it.
            "qr_svg": mark_safe(mfa.qr_code_svg(uri)),  # noqa: S308
            "secret": " ".join(device.secret[i : i + 4] for i in range(0, len(device.secret), 4)),
            "required": second_factor_required(user),
        },
    )


@never_cache
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Shows the recovery codes just made, once: they are gone from the session afterwards."""
    codes = request.session.pop(mfa.NEW_CODES_KEY, None)
    if not codes:
        return redirect("account-security")
    return render(
        request, "staff/recovery_codes.html", {"codes": codes, "next": _safe_next(request)}
    )


@never_cache
@login_required
def account_security(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    device = mfa.confirmed_device(user)
    return render(
        request,
        "staff/account_security.html",
        {
            "device": device,
            "codes_left": mfa.unused_recovery_codes(user) if device else 0,
            "required": second_factor_required(user),
        },
    )


@require_POST
@login_required
@reauth_required
def regenerate_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = mfa.regenerate_recovery_codes(Actor.from_request(request), request.user)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
        return redirect("account-security")
    request.session[mfa.NEW_CODES_KEY] = codes
    return redirect(_with_next("mfa-recovery-codes", reverse("account-security")))


@require_POST
@login_required
@reauth_required
def remove_second_factor(request: HttpRequest) -> HttpResponse:
    try:
        mfa.remove_own_second_factor(Actor.from_request(request), request.user)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
    else:
        messages.success(request, _("Two-factor sign-in is off for your account."))
    return redirect("account-security")


@never_cache
@sensitive_post_parameters("password", "code")
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Prove identity again (password, and code where enrolled) before a dangerous act."""
    user: Any = request.user
    next_url = _safe_next(request)
    needs_code = mfa.has_second_factor(user)
    form = ReauthenticationForm(request.POST or None, needs_code=needs_code)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        username = user.get_username()
        passed = False
        if not throttle.is_blocked(username, actor.ip):
            passed = user.check_password(form.cleaned_data["password"])
            if not passed:
                record_audit_event(
                    actor, AuditAction.LOGIN_FAILED, detail={"step": "reauthenticate"}
                )
            elif needs_code:
                passed = (
                    mfa.verify_second_factor(actor, user, form.cleaned_data["code"]) is not None
                )
        if passed:
            mark_authenticated(request)
            throttle.record_attempt(actor, username, success=True, step=AttemptStep.REAUTHENTICATE)
            record_audit_event(actor, AuditAction.REAUTHENTICATE, target=f"staff:{user.pk}")
            return HttpResponseRedirect(next_url)
        throttle.record_attempt(actor, username, success=False, step=AttemptStep.REAUTHENTICATE)
        form.add_error(None, SIGN_IN_FAILED)
    return render(request, "staff/reauthenticate.html", {"form": form, "next": next_url})


urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("mfa/", second_factor, name="mfa-verify"),
    path("mfa/setup/", enrolment, name="mfa-enrol"),
    path("mfa/recovery-codes/", recovery_codes, name="mfa-recovery-codes"),
    path("security/", account_security, name="account-security"),
    path("security/recovery-codes/", regenerate_codes, name="account-regenerate-codes"),
    path("security/remove/", remove_second_factor, name="account-remove-second-factor"),
    path("reauth/", reauthenticate, name="reauthenticate"),
]
