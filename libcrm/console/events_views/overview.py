"""The event store's overview page: what the store holds, by month, type, channel and source,
and how many patrons that concerns (small groups hidden). Aggregates only: analysts see it."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from libcrm.console.access import permission_required
from libcrm.console.events_views import runs
from libcrm.console.events_views.figures import store_figures
from libcrm.events.errors import EventError
from libcrm.staff.roles import IMPORT_EVENTS, VIEW_EVENT_STORE

log = logging.getLogger(__name__)


@permission_required(VIEW_EVENT_STORE)
def store_overview(request: HttpRequest) -> HttpResponse:
    try:
        figures = store_figures()
    except (EventError, OSError):
        log.exception("the event store's figures could not be read")
        figures = None
    return render(
        request,
        "events/overview.html",
        {
            "figures": figures,
            "last_run": runs.latest_run(),
            "can_import": request.user.has_perm(IMPORT_EVENTS),
            "library_time_zone": settings.TIME_ZONE,
        },
    )
