"""The console's own pages: the overview (aggregates only, for every role)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from libcrm.console.access import has_any_perm
from libcrm.insight.selectors import patron_overview
from libcrm.staff.roles import ADD_PATRON, AGGREGATES, VIEW_PERSONAL


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Figures about the whole population, never about a person; small groups are hidden."""
    can_see_figures = has_any_perm(request.user, (AGGREGATES, VIEW_PERSONAL))
    return render(
        request,
        "console/home.html",
        {
            "overview": patron_overview() if can_see_figures else None,
            "can_search": request.user.has_perm(VIEW_PERSONAL),
            "can_register": request.user.has_perm(ADD_PATRON),
        },
    )
