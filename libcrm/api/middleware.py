"""Refuse oversized API bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from libcrm.api.errors import error_response

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
