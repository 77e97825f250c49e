"""The portal's session: a patron's sign-in lives under keys of its own in the session, never
in ``django.contrib.auth`` (patrons are not staff users). Like Django's own sessions it carries
a fingerprint of the password hash, so setting a new password ends every other session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.cache import never_cache

from libcrm.patrons.models import Patron
from libcrm.portal.models import PortalAccount

PATRON_KEY = "libcrm_portal_patron"
HASH_KEY = "libcrm_portal_hash"

View = Callable[..., HttpResponse]


def _fingerprint(account: PortalAccount) -> str:
    return salted_hmac("libcrm.portal.session", account.password).hexdigest()


def start_portal_session(request: HttpRequest, patron: Patron) -> None:
    account = PortalAccount.objects.get(patron=patron)
    request.session.cycle_key()  # a new session id at sign-in: no session fixation
    request.session[PATRON_KEY] = patron.pk
    request.session[HASH_KEY] = _fingerprint(account)


def end_portal_session(request: HttpRequest) -> None:
    request.session.pop(PATRON_KEY, None)
    request.session.pop(HASH_KEY, None)
    request.session.cycle_key()


def portal_patron(request: HttpRequest) -> Patron | None:
    """The signed-in patron, or ``None`` (no portal sign-in, or the password changed since)."""
    patron_id = request.session.get(PATRON_KEY)
    if patron_id is None:
        return None
    account = (
        PortalAccount.objects.select_related(
            "patron", "patron__department", "patron__home_branch", "patron__household"
        )
        .filter(patron_id=patron_id)
        .first()
    )
    if account is None or not constant_time_compare(
        request.session.get(HASH_KEY, ""), _fingerprint(account)
    ):
        end_portal_session(request)
        return None
    return account.patron


def portal_login_required(view: View) -> View:
    """The page needs a patron signed in to the portal (a staff session is not one)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patron = portal_patron(request)
        if patron is None:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('portal:signin')}?{query}")
        request.portal_patron = patron  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return never_cache(guarded)
