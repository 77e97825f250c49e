"""Refuse what no view should see: oversized API bodies before anything reads them, and NUL
characters in addresses and query strings."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import translation
from django.utils.translation import gettext as _

from libcrm.api.errors import NUL, FieldError, error_response, invalid, nul_message

# Event batches are legitimately large: their route has its own, higher limit.
INGEST_PREFIX = "/api/v1/events/"


class BoundedApiPayloadMiddleware:
    """Answer 413 in the API's error shape when Content-Length exceeds
    ``LIBCRM_API_MAX_BODY_BYTES``, so a client never streams megabytes only to be refused.
    (Bodies without a length are bounded by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, which the
    API turns into the same 413.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            limit = (
                settings.LIBCRM_INGEST_MAX_BODY_BYTES
                if request.path.startswith(INGEST_PREFIX)
                else settings.LIBCRM_API_MAX_BODY_BYTES
            )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                # This runs before LocaleMiddleware, so pick the client's language here.
                language = translation.get_language_from_request(request)
                with translation.override(language):
                    response = error_response(
                        413,
                        "payload_too_large",
                        _("The request body is %(got)d bytes; the limit is %(limit)d bytes.")
                        % {"got": length, "limit": limit},
                    )
                response["Content-Language"] = language
                return response
        return self.get_response(request)


class RefuseNulCharactersMiddleware:
    """Answer 422 (the API) or 400 (pages) when the address or a query parameter holds a NUL
    character: no field accepts one, and PostgreSQL refuses to compare text with it, so a
    search or filter would otherwise fail deep inside a query. JSON bodies are checked by the
    API's parser (with the field's path) and form fields by Django's own validators."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        paths = ["path"] if NUL in request.path else []
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                paths.append(f"query.{name.replace(NUL, '')}")
        if not paths:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            error = invalid(FieldError(path, nul_message()) for path in paths)
            return error_response(error.status, error.code, error.message, error.fields)
        return HttpResponseBadRequest(
            _("The address holds a NUL character (U+0000), which no page accepts."),
            content_type="text/plain; charset=utf-8",
        )
