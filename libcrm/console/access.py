"""Access control for console pages: sign-in, a permission check, and an audit record of refusals.

Every console view that shows or changes anything is wrapped in :func:`permission_required`, so a
refused attempt (an analyst opening a patron page) leaves a ``DENIED`` trace in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event

View = Callable[..., HttpResponse]


def has_any_perm(user: Any, perms: tuple[str, ...]) -> bool:
    return any(user.has_perm(perm) for perm in perms)


def permission_required(*perms: str, any_of: bool = False) -> Callable[[View], View]:
    """Sign-in first (anonymous visitors go to the login page), then ``perms`` — all of them, or
    one of them with ``any_of`` — else a 403 page and a ``DENIED`` audit record."""

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user: Any = request.user
            allowed = has_any_perm(user, perms) if any_of else user.has_perms(perms)
            if not allowed:
                match = request.resolver_match
                record_audit_event(
                    Actor.from_request(request),
                    AuditAction.DENIED,
                    target=f"page:{match.view_name if match else request.path}"[:120],
                    detail={"permissions": list(perms)},
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(guarded)

    return decorator
