"""Template helpers shared by console pages: age bands, bar lengths, audit details."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
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
