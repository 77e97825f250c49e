"""Writes of API tokens: create, revoke (each audited) and the cheap "last used" stamp.

Permission to manage tokens is checked by the callers (the console views check
``api.manage_tokens``); these functions enforce what a token itself must satisfy.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.api.models import ApiToken, Scope
from libcrm.api.tokens import generate_token, hash_secret
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event

NAME_LIMIT = 80
# A token used many times a second should not cost a write each time; a minute is precise
# enough to tell an idle integration from a busy one.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_PREFIX_ATTEMPTS = 5


class ApiTokenError(Exception):
    """A token was refused; ``field`` names the input at fault (name, scopes, expires_at)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ApiTokenError("name", _("is required"))
    if len(cleaned) > NAME_LIMIT:
        raise ApiTokenError(
            "name", _("must be at most %(limit)d characters") % {"limit": NAME_LIMIT}
        )
    return cleaned


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(str(s) for s in scopes))
    if not wanted:
        raise ApiTokenError("scopes", _("choose at least one scope"))
    unknown = [s for s in wanted if s not in Scope.values]
    if unknown:
        raise ApiTokenError(
            "scopes",
            _("unknown scope %(scope)s; use one of: %(choices)s")
            % {"scope": unknown[0], "choices": ", ".join(Scope.values)},
        )
    return [s for s in Scope.values if s in wanted]  # canonical order, for display and diffing


@transaction.atomic
def create_api_token(
    actor: Actor,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its plaintext, which is never stored and cannot be shown
    again (only a SHA-256 of the secret is kept)."""
    cleaned_name = _clean_name(name)
    cleaned_scopes = _clean_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiTokenError("expires_at", _("must be in the future"))
    for attempt in range(_PREFIX_ATTEMPTS):
        parts = generate_token()
        token = ApiToken(
            name=cleaned_name,
            prefix=parts.prefix,
            secret_hash=hash_secret(parts.secret),
            scopes=cleaned_scopes,
            created_by_id=actor.user_id,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                token.save()
            break
        except IntegrityError:  # the random prefix is taken: astronomically rare, so retry
            if attempt == _PREFIX_ATTEMPTS - 1:
                raise
    record_audit_event(
        actor,
        AuditAction.CREATE_TOKEN,
        target=f"token:{token.prefix}",
        detail={
            "name": token.name,
            "scopes": cleaned_scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, parts.plaintext


@transaction.atomic
def revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` from now on. Revoking twice is harmless and records nothing new, so a
    double-submitted form or a retried script does no damage."""
    current = ApiToken.objects.select_for_update().get(pk=token.pk)
    if current.revoked_at is None:
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        record_audit_event(
            actor,
            AuditAction.REVOKE_TOKEN,
            target=f"token:{current.prefix}",
            detail={"name": current.name},
        )
    token.revoked_at = current.revoked_at
    return token


def record_token_use(token: ApiToken, now: datetime) -> None:
    """Stamp ``last_used_at`` at most once per :data:`LAST_USED_RESOLUTION`. Not audited: the
    audit trail already records what each request did with personal data."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
