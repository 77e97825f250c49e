"""Who is calling the API: bearer tokens, their scopes, and the :class:`Actor` audits name.

A route declares the scopes it needs with ``auth=TokenAuth(Scope.PATRONS_READ)``; Ninja runs
the check before the body is parsed, so an unauthenticated client learns nothing about the
shape of its request. Answers: 401 for a missing, malformed, unknown, revoked or expired token;
403 naming the missing scope for a valid token without it (that refusal is audited).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from libcrm.api.errors import ApiError, not_authenticated
from libcrm.api.models import ApiToken
from libcrm.api.selectors import find_api_token
from libcrm.api.services import record_token_use
from libcrm.api.tokens import parse_token, secret_matches
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event


def authenticate_token(text: str) -> ApiToken:
    """The active token ``text`` names, or an :class:`ApiError` (401) saying why not.

    Unknown prefixes and wrong secrets get the same answer, so the response never confirms that
    a prefix exists; a revoked or expired token is named as such because only a holder of the
    real secret can get that far, and it tells them what to do.
    """
    parts = parse_token(text)
    token = find_api_token(parts.prefix) if parts else None
    if parts is None or token is None or not secret_matches(parts.secret, token.secret_hash):
        raise not_authenticated(_("This API token is not valid."), "invalid_token")
    now = timezone.now()
    if token.revoked_at is not None:
        raise not_authenticated(_("This API token has been revoked."), "token_revoked")
    if token.expires_at is not None and token.expires_at <= now:
        when = formats.date_format(timezone.localtime(token.expires_at), "DATETIME_FORMAT")
        raise not_authenticated(
            _("This API token expired on %(when)s.") % {"when": when}, "token_expired"
        )
    record_token_use(token, now)
    return token


def require_scopes(request: HttpRequest, token: ApiToken, scopes: Iterable[str]) -> None:
    """Refuse with 403 unless ``token`` holds every scope in ``scopes``; audit the refusal."""
    missing = [scope for scope in scopes if scope not in token.scopes]
    if not missing:
        return
    record_audit_event(
        Actor.for_token(token, request),
        AuditAction.DENIED,
        target=f"token:{token.prefix}",
        detail={"missing_scopes": missing, "method": request.method, "path": request.path},
    )
    raise ApiError(
        403,
        "missing_scope",
        _("This API token lacks the scope %(scopes)s needed here.")
        % {"scopes": ", ".join(missing)},
    )


class TokenAuth(HttpBearer):
    """``Authorization: Bearer lcrm_<prefix>_<secret>``, holding every scope given here."""

    openapi_bearerFormat = "lcrm_<prefix>_<secret>"
    openapi_description = (
        "An API token created by an administrator in the console (API tokens page). Each "
        "operation's description names the scopes it needs."
    )

    def __init__(self, *scopes: str) -> None:
        self.scopes = tuple(scopes)
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiToken:
        header = request.headers.get(self.header, "").strip()
        if not header:
            raise not_authenticated(_("Send an API token: Authorization: Bearer lcrm_…"))
        scheme, _sep, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            raise not_authenticated(
                _("Use the Bearer scheme: Authorization: Bearer lcrm_…"), "invalid_token"
            )
        return self.authenticate(request, credentials.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = authenticate_token(token)
        require_scopes(request, api_token, self.scopes)
        return api_token


def request_token(request: HttpRequest) -> ApiToken:
    """The token :class:`TokenAuth` accepted for this request."""
    auth: Any = getattr(request, "auth", None)
    if not isinstance(auth, ApiToken):
        raise not_authenticated(_("Send an API token: Authorization: Bearer lcrm_…"))
    return auth


def token_actor(request: HttpRequest) -> Actor:
    """The actor audit records name for this request: the token, and the client's address."""
    return Actor.for_token(request_token(request), request)
