"""Sign-ins, failed sign-ins and sign-outs go to the audit trail (Django's auth signals).

A failed attempt records only the address it came from: the username typed may be a patron's
name or a password typed into the wrong box, so it is never stored. A sign-in through the
console's two-step form is recorded by :mod:`libcrm.console.accounts` once both steps are passed;
the signal records the others (sessions opened by code, such as tests).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from libcrm.privacy.actors import Actor, client_ip
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event


def _staff_actor(user: Any, request: HttpRequest | None) -> Actor:
    return Actor(
        label=user.get_username(),
        via="console",
        user_id=user.pk,
        ip=client_ip(request) if request is not None else None,
    )


def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if getattr(request, "libcrm_staged_sign_in", False):  # recorded when the second step passes
        return
    record_audit_event(_staff_actor(user, request), AuditAction.LOGIN, target=f"staff:{user.pk}")


def audit_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:  # signing out without a session: nobody to record
        return
    record_audit_event(_staff_actor(user, request), AuditAction.LOGOUT, target=f"staff:{user.pk}")


def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    actor = Actor(
        label="anonymous", via="console", ip=client_ip(request) if request is not None else None
    )
    record_audit_event(actor, AuditAction.LOGIN_FAILED)


def connect() -> None:
    user_logged_in.connect(audit_login, dispatch_uid="libcrm.console.audit_login")
    user_logged_out.connect(audit_logout, dispatch_uid="libcrm.console.audit_logout")
    user_login_failed.connect(audit_login_failed, dispatch_uid="libcrm.console.audit_login_failed")
