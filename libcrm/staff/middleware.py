"""Keeps a half-signed-in staff session (password given, second factor not yet) on the sign-in
pages: every other console page sends it to the code step, or to enrolment when the account has
no second factor yet. API calls (token authenticated) and the patron portal are not staff
sessions and pass untouched."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from libcrm.staff.mfa import fully_authenticated, has_second_factor

# Pages a half-signed-in session may open.
OPEN_ROUTES = frozenset({"login", "logout", "mfa-verify", "mfa-enrol", "set_language"})
OPEN_PREFIXES = ("/api/", "/portal/", "/i18n/")


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_pass_second_factor(request):
            route = "mfa-verify" if has_second_factor(request.user) else "mfa-enrol"
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse(route)}?{query}")
        return self.get_response(request)

    def _must_pass_second_factor(self, request: HttpRequest) -> bool:
        path = request.path_info
        static = "/" + settings.STATIC_URL.lstrip("/")
        if path.startswith(OPEN_PREFIXES) or path.startswith(static):
            return False
        if not request.user.is_authenticated or fully_authenticated(request):
            return False
        try:
            name = resolve(path).url_name
        except Resolver404:
            return False  # a 404 page shows nothing
        return name not in OPEN_ROUTES
