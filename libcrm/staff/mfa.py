"""The second factor of staff sign-in: TOTP (RFC 6238) from an authenticator app, and
single-use recovery codes for a lost phone.

A session is *fully authenticated* once its owner has passed the second factor, or signed in
with a role that needs none; :mod:`libcrm.staff.middleware` keeps every other session on the
sign-in pages. Every write here is audited and runs in a transaction.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

import pyotp
import segno
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.models import RecoveryCode, TotpDevice
from libcrm.staff.roles import second_factor_required
from libcrm.staff.services import StaffError
from libcrm.staff.sessions import end_sessions_of

ISSUER = "libcrm"
STEP_SECONDS = 30
# One step either side: a phone clock a little off still works, a code is valid at most 90 s.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread

# Session keys: how the second factor was passed ("totp", "recovery_code", or "not_required"
# for a role that needs none), and the codes to show once after enrolment.
SECOND_FACTOR_KEY = "libcrm_second_factor"
NEW_CODES_KEY = "libcrm_new_recovery_codes"


# --- sessions -------------------------------------------------------------------------------


def mark_second_factor(request: HttpRequest, how: str) -> None:
    request.session[SECOND_FACTOR_KEY] = how


def fully_authenticated(request: HttpRequest) -> bool:
    """Whether the session may use the console: the second factor was passed, or the user's
    role needs none (checked again, in case the role has changed since sign-in)."""
    user: Any = request.user
    if not user.is_authenticated:
        return False
    how = request.session.get(SECOND_FACTOR_KEY)
    if how in ("totp", "recovery_code"):
        return True
    return how == "not_required" and not second_factor_required(user)


# --- reads ----------------------------------------------------------------------------------


def confirmed_device(user: Any) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed=True).first()


def has_second_factor(user: Any) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed=True).exists()


def unused_recovery_codes(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def provisioning_uri(user: Any, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


def qr_code_svg(uri: str) -> str:
    """The otpauth:// link as an inline SVG QR code (drawn here: no image service is asked)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")


# --- TOTP -----------------------------------------------------------------------------------


def _normalise_code(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, after_step: int, now: float | None = None) -> int | None:
    """The time step whose code equals ``code``, among the steps around now that are later than
    ``after_step`` (so a code already used, or an older one, never matches again)."""
    code = _normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step <= after_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


@transaction.atomic
def begin_enrolment(user: Any) -> TotpDevice:
    """A new, unconfirmed secret for ``user`` (replacing an earlier unconfirmed one); refused
    while a confirmed one exists — that is changed only by a reset."""
    if has_second_factor(user):
        raise StaffError("totp", _("two-factor sign-in is already set up for this account"))
    device, _created = TotpDevice.objects.update_or_create(
        user=user, defaults={"secret": pyotp.random_base32(), "confirmed": False, "last_step": 0}
    )
    return device


def _new_recovery_codes(user: Any) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=make_password(code)) for code in codes
    )
    return codes


@transaction.atomic
def confirm_enrolment(actor: Actor, user: Any, code: str) -> list[str]:
    """Confirm the pending secret with a code from the app; returns the recovery codes (shown
    once, stored only hashed)."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise StaffError("code", _("start the set-up again: no pending secret"))
    step = _matching_step(device.secret, code, device.last_step)
    if step is None:
        record_audit_event(
            actor, AuditAction.MFA_FAILED, target=f"staff:{user.pk}", detail={"step": "enrol"}
        )
        raise StaffError("code", _("the code does not match; check the phone's clock and retry"))
    now = timezone.now()
    device.confirmed, device.last_step = True, step
    device.confirmed_at = device.last_used_at = now
    device.save()
    codes = _new_recovery_codes(user)
    record_audit_event(
        actor,
        AuditAction.MFA_ENROL,
        target=f"staff:{user.pk}",
        detail={"recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def verify_second_factor(actor: Actor, user: Any, code: str) -> str | None:
    """Check a TOTP code or a recovery code; returns how it passed ("totp" or
    "recovery_code"), or ``None`` (audited as ``MFA_FAILED``)."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is not None:
        step = _matching_step(device.secret, code, device.last_step)
        if step is not None:
            device.last_step, device.last_used_at = step, timezone.now()
            device.save(update_fields=["last_step", "last_used_at"])
            return "totp"
        typed = _normalise_code(code).lower()
        if len(typed) > 6:  # recovery codes are longer than TOTP codes: only then hash-check
            for recovery in RecoveryCode.objects.select_for_update().filter(
                user=user, used_at__isnull=True
            ):
                if check_password(typed, recovery.code_hash):
                    recovery.used_at = timezone.now()
                    recovery.save(update_fields=["used_at"])
                    return "recovery_code"
    record_audit_event(actor, AuditAction.MFA_FAILED, target=f"staff:{user.pk}")
    return None


@transaction.atomic
def regenerate_recovery_codes(actor: Actor, user: Any) -> list[str]:
    if not has_second_factor(user):
        raise StaffError("totp", _("set up two-factor sign-in first"))
    codes = _new_recovery_codes(user)
    record_audit_event(
        actor,
        AuditAction.MFA_ENROL,
        target=f"staff:{user.pk}",
        detail={"recovery_codes": len(codes), "regenerated": True},
    )
    return codes


@transaction.atomic
def remove_own_second_factor(actor: Actor, user: Any) -> None:
    """A staff member turns their own second factor off: refused while their role needs it."""
    if second_factor_required(user):
        raise StaffError(
            "totp", _("your role can see personal data, so two-factor sign-in cannot be removed")
        )
    if not TotpDevice.objects.filter(user=user).exists():
        raise StaffError("totp", _("two-factor sign-in is not set up for this account"))
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    record_audit_event(
        actor, AuditAction.MFA_RESET, target=f"staff:{user.pk}", detail={"by": "self"}
    )


@transaction.atomic
def reset_second_factor(actor: Actor, user: Any) -> None:
    """An administrator clears another staff member's second factor (a lost phone): they set
    it up again at their next sign-in."""
    if actor.user_id == user.pk:
        raise StaffError(
            "totp", _("you cannot reset your own two-factor sign-in; ask another administrator")
        )
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    ended = end_sessions_of(user)  # whoever holds the lost phone is signed out now
    record_audit_event(
        actor,
        AuditAction.MFA_RESET,
        target=f"staff:{user.pk}",
        detail={"by": "administrator", "sessions_ended": ended},
    )


# --- the demo -------------------------------------------------------------------------------

# The demo's published authenticator key (like its published password): `libcrm demo` enrols it
# for the demo accounts, and `libcrm demo-code` prints the current code. Never a real account's.
DEMO_SECRET = "LIBCRMDEMOTWOFACTORKEYFORTRYINGX"  # noqa: S105


@transaction.atomic
def enrol_demo_second_factor(actor: Actor, user: Any) -> None:
    """Give a demo account the published demo key, confirmed (no recovery codes: the key is
    public anyway)."""
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret": DEMO_SECRET,
            "confirmed": True,
            "last_step": 0,
            "confirmed_at": timezone.now(),
        },
    )
    record_audit_event(
        actor, AuditAction.MFA_ENROL, target=f"staff:{user.pk}", detail={"demo": True}
    )
