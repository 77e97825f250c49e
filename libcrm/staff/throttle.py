"""Sign-in throttling: after too many failures for one account, or from one address, further
attempts are refused for a while — with the same answer whether or not the account exists.

Attempts live in the database (:class:`~libcrm.staff.models.LoginAttempt`) so every process
sees them. An account is named by a keyed digest of the lowercased username typed, never by the
name itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from libcrm.privacy import crypto
from libcrm.privacy.actors import Actor
from libcrm.privacy.keys import get_keyring
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.models import AttemptStep, LoginAttempt

_CONTEXT = "staff.login_attempt"


def account_digest(username: str) -> str:
    return crypto.blind_index(get_keyring(), _CONTEXT, username.strip().lower())


def _window_start() -> datetime:
    return timezone.now() - timedelta(seconds=settings.LIBCRM_LOGIN_WINDOW_SECONDS)


def _account_failures(account: str) -> int:
    since = _window_start()
    last_success = (
        LoginAttempt.objects.filter(account=account, success=True, at__gte=since)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = LoginAttempt.objects.filter(account=account, success=False, at__gte=since)
    if last_success is not None:
        failures = failures.filter(at__gt=last_success)
    return failures.count()


def _address_failures(ip: str | None) -> int:
    if not ip:
        return 0
    return LoginAttempt.objects.filter(ip=ip, success=False, at__gte=_window_start()).count()


def is_blocked(username: str, ip: str | None) -> bool:
    """Whether attempts for this username or from this address are refused right now."""
    return (
        _account_failures(account_digest(username)) >= settings.LIBCRM_LOGIN_MAX_FAILURES_ACCOUNT
        or _address_failures(ip) >= settings.LIBCRM_LOGIN_MAX_FAILURES_ADDRESS
    )


@transaction.atomic
def record_attempt(
    actor: Actor, username: str, *, success: bool, step: str = AttemptStep.PASSWORD
) -> None:
    """Store one attempt; when a failure reaches a limit, audit ``LOCKOUT`` (once per lockout)."""
    account = account_digest(username)
    LoginAttempt.objects.create(account=account, ip=actor.ip, success=success, step=step)
    if success:
        return
    limits = (
        ("account", _account_failures(account), settings.LIBCRM_LOGIN_MAX_FAILURES_ACCOUNT),
        ("address", _address_failures(actor.ip), settings.LIBCRM_LOGIN_MAX_FAILURES_ADDRESS),
    )
    for scope, failures, limit in limits:
        if failures == limit:
            record_audit_event(
                actor,
                AuditAction.LOCKOUT,
                target=f"staff:{actor.user_id}" if actor.user_id else "",
                detail={"scope": scope, "failures": failures, "step": str(step)},
            )


def prune_attempts(older_than_days: int = 30) -> int:
    """Forget attempts older than the audit needs (the audit trail keeps the failures)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _rows = LoginAttempt.objects.filter(at__lt=cutoff).delete()
    return deleted
