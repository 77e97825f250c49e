"""Who is acting: every service that touches personal data is told, so that it can audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    """A staff member, a machine client (API token) or the system itself."""

    label: str
    via: str
    user_id: int | None = None
    token_id: int | None = None
    ip: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user: Any = request.user
        return cls(
            label=user.get_username() if user.is_authenticated else "anonymous",
            via="console",
            user_id=user.pk if user.is_authenticated else None,
            ip=client_ip(request),
        )

    @classmethod
    def for_token(cls, token: Any, request: HttpRequest) -> Actor:
        return cls(label=f"token:{token.name}", via="api", token_id=token.pk, ip=client_ip(request))

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label, via="cli")


def client_ip(request: HttpRequest) -> str | None:
    # X-Forwarded-For is trusted only when an operator says a proxy sets it (see settings).
    from django.conf import settings

    if getattr(settings, "LIBCRM_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")
