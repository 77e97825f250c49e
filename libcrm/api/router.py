"""The REST API: one :class:`NinjaAPI` at /api/, its routes versioned under /api/v1/.

OpenAPI is served at /api/openapi.json and browsable at /api/docs. Each domain app contributes a
Ninja router from its own ``api.py``; this module only assembles them, installs the one error
shape (:mod:`libcrm.api.errors`) and answers the unauthenticated health check.
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Status

from libcrm.api.errors import ApiError, JsonObjectParser, install_error_handlers
from libcrm.api.schemas import ErrorOut, HealthOut
from libcrm.ingest.api import router as ingest_router
from libcrm.linkage.api import router as linkage_router
from libcrm.patrons.api import router as patrons_router
from libcrm.segments.api import router as segments_router
from libcrm.subjects.api import router as subjects_router

API_VERSION = "1"

api = NinjaAPI(
    title="libcrm",
    version=API_VERSION,
    description=(
        "Library user-relationship management. Authenticate with an API token created by an "
        "administrator (console → API tokens): `Authorization: Bearer lcrm_…`. Each operation "
        "names the scopes it needs. Identifiers are masked unless a request asks to reveal "
        "them and its token holds `patrons:reveal`; every read of a patron is audited. Errors "
        'always have the shape `{"error": {"code", "message", "fields": [{"path", '
        '"message"}]}}`, and messages follow Accept-Language.'
    ),
    urls_namespace="api",
    parser=JsonObjectParser(),
)
install_error_handlers(api)


@api.get(
    "/v1/health",
    auth=None,
    response={200: HealthOut, 503: ErrorOut},
    tags=["health"],
    summary="Is the service up?",
)
def health(request: HttpRequest) -> Status:
    """For load balancers and monitoring: 200 when the database answers, 503 when it does not.
    Needs no token and says nothing about the data."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        raise ApiError(
            503, "unavailable", _("The database does not answer; try again shortly.")
        ) from exc
    return Status(200, HealthOut(status="ok", api_version=API_VERSION))


api.add_router("/v1/patrons", patrons_router, tags=["patrons"])
api.add_router("/v1/patrons", subjects_router, tags=["data subjects"])
api.add_router("/v1/events", ingest_router, tags=["events"])
api.add_router("/v1/linkage", linkage_router, tags=["linkage"])
api.add_router("/v1/segments", segments_router, tags=["segments"])
