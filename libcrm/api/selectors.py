"""Reads of API tokens: the console's list, and the one-row lookup every API request makes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from django.db.models import QuerySet

from libcrm.api.models import ApiToken


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def api_tokens() -> QuerySet[ApiToken]:
    """Every token, newest first, with its creator (the console shows who made each)."""
    return ApiToken.objects.select_related("created_by").order_by("-created_at", "-id")


def get_api_token(pk: int) -> ApiToken | None:
    return api_tokens().filter(pk=pk).first()


def find_api_token(prefix: str) -> ApiToken | None:
    """The token whose public prefix is ``prefix``; the caller still has to check the secret."""
    return ApiToken.objects.filter(prefix=prefix).first()


def token_status(token: ApiToken, now: datetime) -> TokenStatus:
    """Revoked wins over expired: a revoked token stays revoked whatever its expiry said."""
    if token.revoked_at is not None:
        return TokenStatus.REVOKED
    if token.expires_at is not None and token.expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE
