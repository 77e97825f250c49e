"""Re-authentication before dangerous acts (exports, erasure, merges): OWASP ASVS 5.0 asks for a
fresh proof of identity, not just a live session.

A session carries the time its owner last proved who they are (password, and second factor
where enrolled); :func:`reauth_required` sends anyone whose proof is older than
``LIBCRM_REAUTH_SECONDS`` to the confirmation page and back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

SESSION_KEY = "libcrm_authenticated_at"

View = Callable[..., HttpResponse]


def mark_authenticated(request: HttpRequest) -> None:
    """Record that the session's owner has just proved who they are."""
    request.session[SESSION_KEY] = int(time.time())


def recently_authenticated(request: HttpRequest) -> bool:
    stamp = request.session.get(SESSION_KEY)
    if not isinstance(stamp, int):
        return False
    return time.time() - stamp <= getattr(settings, "LIBCRM_REAUTH_SECONDS", 300)


def reauth_required(view: View) -> View:
    """Wrap *inside* ``permission_required``: a stale session is sent to confirm its password
    (and second factor) and comes back to the same page; a POST is not replayed, the form is
    shown again."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('reauthenticate')}?{query}")

    return guarded
