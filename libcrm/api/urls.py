"""URLs under /api/: the Ninja API, a JSON index at /api/, and JSON for every other miss.

Ninja answers a known address with the wrong method by a plain-text 405, and Django answers an
unknown address by the console's HTML 404; both are wrapped here so that a client of the API
only ever sees the API's error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, path, re_path, reverse

from libcrm.api.errors import method_not_allowed, not_found_view
from libcrm.api.router import API_VERSION, api


def _json_405(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)  # keeps Ninja's csrf_exempt flag
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = [m.strip() for m in response["Allow"].split(",") if m.strip()]
            return method_not_allowed(allowed)
        return response

    return wrapped


def _api_patterns() -> tuple[list[URLPattern | URLResolver], str, str]:
    patterns, app_name, namespace = api.urls
    wrapped: list[URLPattern | URLResolver] = [
        URLPattern(p.pattern, _json_405(p.callback), p.default_args, p.name)
        if isinstance(p, URLPattern)
        else p
        for p in patterns
    ]
    return wrapped, app_name, namespace


def index(request: HttpRequest) -> HttpResponse:
    """Where things are, for a person or program that starts at /api/."""
    return JsonResponse(
        {
            "versions": [f"v{API_VERSION}"],
            "health": request.build_absolute_uri(reverse("api:health")),
            "docs": request.build_absolute_uri(reverse("api:openapi-view")),
            "openapi": request.build_absolute_uri(reverse("api:openapi-json")),
        }
    )


urlpatterns = [
    path("", index, name="api-index"),
    path("", _api_patterns()),
    re_path(r"^.*$", not_found_view),
]
