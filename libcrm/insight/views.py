"""The usage dashboard (M16): active patrons, channel mix, the 24 × 7 heatmap, new versus
returning patrons, with CSV and XLSX exports of exactly the figures shown (small groups
hidden). Aggregates only: analysts may open it, and nothing on it names a patron."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from libcrm.console.access import permission_required
from libcrm.insight.aggregates import Cell, suppress_count
from libcrm.insight.selectors import usage
from libcrm.insight.usage import CHANNEL_FAMILIES, UsageDashboard
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.roles import AGGREGATES

FAMILY_LABELS = {
    "physical": gettext_lazy("In person"),
    "digital": gettext_lazy("Digital"),
    "social": gettext_lazy("Social media"),
}
WEEKDAYS = [
    gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"),
    gettext_lazy("Fri"), gettext_lazy("Sat"), gettext_lazy("Sun"),
]  # fmt: skip
MONTH_CHOICES = (3, 6, 12, 24)


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", 12))
    except ValueError:
        return 12
    return months if months in MONTH_CHOICES else 12


def _heat_level(cell: Cell, peak: int) -> int:
    if cell.hidden or not cell.count or not peak:
        return 0
    return max(1, round(9 * cell.count / peak))


@never_cache
@permission_required(AGGREGATES)
def dashboard(request: HttpRequest) -> HttpResponse:
    months = _months(request)
    board = usage(months)
    peak = max((c.count or 0 for row in board.heatmap for c in row), default=0)
    heat_rows = [
        (WEEKDAYS[d], [(c, _heat_level(c, peak)) for c in row])
        for d, row in enumerate(board.heatmap)
    ]
    monthly = [
        {
            "month": m,
            "active": board.active.cells[i],
            "new": board.new.cells[i],
            "returning": board.returning.cells[i],
            "mix": [(board.mix[i].patrons[f], board.mix[i].events[f]) for f in CHANNEL_FAMILIES],
        }
        for i, m in enumerate(board.months)
    ]
    return render(
        request,
        "insight/dashboard.html",
        {
            "board": board,
            "months": months,
            "month_choices": MONTH_CHOICES,
            "monthly": monthly,
            "families": [FAMILY_LABELS[f] for f in CHANNEL_FAMILIES],
            "heat_rows": heat_rows,
            "hours": range(24),
            "segment_sizes": _segment_sizes(board.k),
        },
    )


def _segment_sizes(k: int, points: int = 6) -> list[dict[str, object]]:
    """Each segment's sizes on its last ``points`` snapshot days, small sizes hidden."""
    from libcrm.segments.models import Segment
    from libcrm.segments.selectors import size_history

    history = size_history(points)
    return [
        {
            "segment": segment,
            "points": [(day, suppress_count(str(day), "", n, k)) for day, n in history[segment.pk]],
        }
        for segment in Segment.objects.filter(pk__in=history).order_by("slug")
    ]


def _rows(board: UsageDashboard) -> Iterator[list[str]]:
    """The dashboard as one long table; a hidden figure is written as it is shown ("<k")."""
    less = _("fewer than %(k)d") % {"k": board.k}

    def shown(cell: Cell) -> str:
        return less if cell.hidden else str(cell.count)

    yield [_("Figure"), _("Month or weekday"), _("Hour or channel"), _("Patrons"), _("Events")]
    for i, m in enumerate(board.months):
        yield [_("Active patrons"), m, "", shown(board.active.cells[i]), ""]
        yield [_("New patrons"), m, "", shown(board.new.cells[i]), ""]
        yield [_("Returning patrons"), m, "", shown(board.returning.cells[i]), ""]
        for family in CHANNEL_FAMILIES:
            cell, events = board.mix[i].patrons[family], board.mix[i].events[family]
            yield [
                _("Channel mix"), m, str(FAMILY_LABELS[family]), shown(cell),
                "" if events is None else str(events),
            ]  # fmt: skip
    for d, row in enumerate(board.heatmap):
        for h, cell in enumerate(row):
            yield [_("Weekly rhythm"), str(WEEKDAYS[d]), f"{h:02d}:00", shown(cell), ""]


def _audit_export(request: HttpRequest, fmt: str, months: int) -> None:
    record_audit_event(
        Actor.from_request(request),
        AuditAction.EXPORT,
        target="insight:usage",
        detail={"format": fmt, "months": months, "aggregates_only": True},
    )


@never_cache
@permission_required(AGGREGATES)
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    months = _months(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _rows(usage(months)):
        writer.writerow(row)
    _audit_export(request, "csv", months)
    response = HttpResponse(
        "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
    )  # BOM: Excel opens UTF-8 Chinese correctly
    response["Content-Disposition"] = f'attachment; filename="libcrm-usage-{months}m.csv"'
    return response


@never_cache
@permission_required(AGGREGATES)
def dashboard_xlsx(request: HttpRequest) -> HttpResponse:
    from openpyxl import Workbook

    months = _months(request)
    rows = list(_rows(usage(months)))
    book = Workbook()
    sheet = book.active
    sheet.title = _("Usage")[:31]
    for row in rows:
        sheet.append([int(v) if v.isdigit() else v for v in row])
    out = io.BytesIO()
    book.save(out)
    _audit_export(request, "xlsx", months)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="libcrm-usage-{months}m.xlsx"'
    return response
