"""Aggregate figures about the patron population for the overview page (M16 groundwork).

Each figure is one ``GROUP BY`` over clear-text columns (category, status, department, branch,
birth year, registration month), never a personal field, and goes through
:mod:`libcrm.insight.aggregates` before anyone sees it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from libcrm.insight.aggregates import (
    Breakdown,
    Cell,
    Group,
    suppress_breakdown,
    suppress_series,
)
from libcrm.patrons.age import AGE_BANDS, age_band
from libcrm.patrons.models import Branch, Department, Patron, PatronCategory, PatronStatus

NOT_RECORDED = "none"
REGISTRATION_MONTHS = 12


@dataclass(frozen=True)
class PatronOverview:
    total: Cell | None
    active: Cell
    provisional: Cell
    new_this_month: Cell
    by_category: Breakdown
    by_status: Breakdown
    by_department: Breakdown
    by_branch: Breakdown
    by_age_band: Breakdown
    registrations: Breakdown
    k: int


def _counts(field: str) -> Counter[object]:
    rows = Patron.objects.order_by().values(field).annotate(n=Count("id"))
    return Counter({row[field]: row["n"] for row in rows})


def _choice_groups(field: str, choices: Iterable[tuple[str, str]]) -> list[Group]:
    counts = _counts(field)
    return [(value, str(label), counts.get(value, 0)) for value, label in choices]


def _place_groups(model: type[Branch] | type[Department], field: str) -> list[Group]:
    """Groups per department or branch, in code order; patrons without one come last."""
    counts = _counts(field)
    chinese = (get_language() or "").startswith("zh")
    groups: list[Group] = [
        (place.code, place.name_zh if chinese else place.name_en, counts[place.pk])
        for place in model.objects.filter(pk__in=[pk for pk in counts if pk is not None])
    ]
    if counts.get(None):
        groups.append((NOT_RECORDED, _("Not recorded"), counts[None]))
    return groups


def _age_groups(today: date) -> list[Group]:
    bands: Counter[str | None] = Counter()
    for birth_year, n in _counts("birth_year").items():
        bands[age_band(birth_year if isinstance(birth_year, int) else None, today)] += n
    groups: list[Group] = [(b.code, _(b.label), bands[b.code]) for b in AGE_BANDS]
    if bands.get(None):
        groups.append((NOT_RECORDED, _("Not recorded"), bands[None]))
    return groups


def _months(today: date, count: int) -> list[date]:
    """The first days of the last ``count`` months, oldest first, this month included."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _registration_groups(today: date) -> list[Group]:
    months = _months(today, REGISTRATION_MONTHS)
    rows = (
        Patron.objects.order_by()
        .filter(registered_on__gte=months[0], registered_on__lte=today)
        .annotate(month=TruncMonth("registered_on"))
        .values("month")
        .annotate(n=Count("id"))
    )
    counts = {row["month"]: row["n"] for row in rows}
    return [
        (month.strftime("%Y-%m"), date_format(month, "YEAR_MONTH_FORMAT"), counts.get(month, 0))
        for month in months
    ]


def patron_overview(today: date | None = None, k: int | None = None) -> PatronOverview:
    """Every figure of the overview page, suppressed for groups smaller than ``k``."""
    today = today or timezone.localdate()
    k = settings.LIBCRM_MIN_GROUP_SIZE if k is None else k
    total_label = _("Total")
    by_status = suppress_breakdown(_choice_groups("status", PatronStatus.choices), k, total_label)
    registrations = suppress_series(_registration_groups(today), k)
    return PatronOverview(
        total=by_status.total,
        active=by_status.cell(PatronStatus.ACTIVE),
        provisional=by_status.cell(PatronStatus.PROVISIONAL),
        new_this_month=registrations.cells[-1],
        by_category=suppress_breakdown(
            _choice_groups("category", PatronCategory.choices), k, total_label
        ),
        by_status=by_status,
        by_department=suppress_breakdown(_place_groups(Department, "department"), k, total_label),
        by_branch=suppress_breakdown(_place_groups(Branch, "home_branch"), k, total_label),
        by_age_band=suppress_breakdown(_age_groups(today), k, total_label),
        registrations=registrations,
        k=k,
    )


def usage(months: int = 12, today: date | None = None, k: int | None = None) -> Any:
    """The usage dashboard (:mod:`libcrm.insight.usage`) over the last ``months`` months."""
    from libcrm.events.services import event_store
    from libcrm.insight.usage import usage_dashboard

    store = event_store()
    cur = store.engine.cursor().cursor()  # its own connection: its temp view and table die with it
    try:
        store.reader.relation(cur).create_view("events", replace=True)
        return usage_dashboard(
            cur,
            tz=settings.TIME_ZONE,
            until=today or timezone.localdate(),
            months=months,
            k=settings.LIBCRM_MIN_GROUP_SIZE if k is None else k,
        )
    finally:
        cur.close()
