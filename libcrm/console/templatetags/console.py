"""Template helpers shared by console pages: age bands, bar lengths, audit details."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from libcrm.patrons.age import AGE_BAND_LABELS, age_band

register = template.Library()


@register.filter
def age_band_label(birth_year: int | None) -> str:
    """The translated age band of a birth year, or an empty string when it is unknown."""
    code = age_band(birth_year, timezone.localdate())
    return _(AGE_BAND_LABELS[code]) if code else ""


@register.filter
def bar_percent(count: int | None, largest: int) -> int:
    """The length of a bar in a chart, as a percentage of the largest shown figure."""
    if not count or not largest:
        return 0
    return max(1, round(100 * count / largest))


@register.filter
def ingest_format(code: str) -> str:
    """What an ingestion format is called (``tabular`` → "Spreadsheet (CSV or XLSX)")."""
    from libcrm.console.events_views.labels import format_label

    return format_label(code)


@register.filter
def short_count(count: int | None) -> str:
    """A count short enough for a chart label: 12,345 → "12k" (English) or "1.2万" (Chinese)."""
    if count is None:
        return ""
    chinese = (get_language() or "").startswith("zh")
    steps = ((100_000_000, "亿"), (10_000, "万")) if chinese else ((1_000_000, "M"), (1_000, "k"))
    for size, unit in steps:
        if count >= size:
            value = count / size
            text = f"{value:.1f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}"
            return f"{text}{unit}"
    return f"{count:,}"


@register.filter
def audit_detail(detail: Any) -> list[tuple[str, str]]:
    """An audit record's detail as (name, text) pairs; lists are joined with commas."""
    if not isinstance(detail, dict):
        return []
    pairs = []
    for key, value in sorted(detail.items()):
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value) or "—"
        elif isinstance(value, bool):
            text = _("yes") if value else _("no")
        else:
            text = str(value)
        pairs.append((str(key), text))
    return pairs
