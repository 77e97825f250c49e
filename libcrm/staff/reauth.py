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
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

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


def _return_to(request: HttpRequest) -> str:
    """Where to come back to: the page itself for a GET; for a POST (a button on a list) the page
    the button was on, when it is ours — a POST-only address cannot be opened with a GET."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


def reauth_required(view: View) -> View:
    """Wrap *inside* ``permission_required``: a stale session is sent to confirm its password
    (and second factor) and comes back to the same page; a POST is not replayed, the form is
    shown again."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        query = urlencode({"next": _return_to(request)})
        return HttpResponseRedirect(f"{reverse('reauthenticate')}?{query}")

    return guarded
