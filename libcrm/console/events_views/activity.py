"""A patron's activity as the patron page draws it: the weekday × hour heatmap, the channel mix
and counts by type over the last 30, 90 and 365 days.

The store counts (:class:`~libcrm.events.store.PatronActivity`, in the library's time zone);
this module only shapes those counts into rows, shades and shares for the templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from libcrm.console.events_views.labels import (
    CHANNEL_GROUPS,
    OTHER_GROUP,
    channel_label,
    family_label,
    family_of,
    type_label,
)
from libcrm.events.store import PatronActivity

#: The periods the heatmap and channel mix can cover, in days (``None``: everything stored).
PERIODS: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "all": None}
DEFAULT_PERIOD = "365"
#: The windows of the counts-by-type table.
WINDOWS: tuple[int, ...] = (30, 90, 365)
#: Shades of the heatmap besides "none": a cell's shade is its share of the busiest cell.
SHADES = 4


@dataclass(frozen=True)
class HeatCell:
    hour: int
    count: int
    shade: int  # 0 (nothing) … SHADES (the busiest hour of the week)
    label: str  # "Monday 14:00–15:00: 3 events", for screen readers and tooltips


@dataclass(frozen=True)
class HeatRow:
    day: str
    day_short: str
    cells: tuple[HeatCell, ...]


@dataclass(frozen=True)
class Heatmap:
    rows: tuple[HeatRow, ...]
    largest: int
    total: int

    @property
    def hours(self) -> range:
        return range(24)

    @property
    def shades(self) -> range:
        return range(SHADES + 1)


def shade(count: int, largest: int) -> int:
    """0 for an empty cell, else 1…SHADES in proportion to the busiest cell (rounded up, so
    that a single event is never drawn as nothing)."""
    if count <= 0 or largest <= 0:
        return 0
    return max(1, min(SHADES, -(-SHADES * count // largest)))


def heatmap(grid: Sequence[Sequence[int]]) -> Heatmap:
    """``grid[day][hour]`` (Monday first, local hours) as rows of shaded, labelled cells."""
    largest = max((n for row in grid for n in row), default=0)
    rows = []
    for day, counts in enumerate(grid):
        name = str(WEEKDAYS[day])
        cells = tuple(
            HeatCell(
                hour,
                n,
                shade(n, largest),
                ngettext(
                    "%(day)s %(start)02d:00–%(end)02d:00: %(count)d interaction",
                    "%(day)s %(start)02d:00–%(end)02d:00: %(count)d interactions",
                    n,
                )
                % {"day": name, "start": hour, "end": hour + 1, "count": n},
            )
            for hour, n in enumerate(counts)
        )
        rows.append(HeatRow(name, str(WEEKDAYS_ABBR[day]), cells))
    return Heatmap(tuple(rows), largest, sum(sum(row) for row in grid))


@dataclass(frozen=True)
class Share:
    code: str
    label: str
    count: int
    percent: int


@dataclass(frozen=True)
class ChannelGroupShare:
    code: str
    label: str
    count: int
    percent: int
    channels: tuple[Share, ...]


def _percent(n: int, total: int) -> int:
    return round(100 * n / total) if total else 0


def channel_mix(by_channel: Mapping[str, int]) -> tuple[ChannelGroupShare, ...]:
    """Physical, digital and social media (and any channel the groups do not know), each with
    its channels; empty groups are left out, order is fixed."""
    total = sum(by_channel.values())
    grouped: list[tuple[str, str, list[str]]] = [
        (g.code, str(g.label), [c for c in g.channels if by_channel.get(c)]) for g in CHANNEL_GROUPS
    ]
    known = {c for g in CHANNEL_GROUPS for c in g.channels}
    others = sorted(c for c, n in by_channel.items() if n and c not in known)
    if others:
        grouped.append((OTHER_GROUP, _("Other"), others))
    shares = []
    for code, label, channels in grouped:
        count = sum(by_channel[c] for c in channels)
        if not count:
            continue
        parts = tuple(
            Share(c, channel_label(c), by_channel[c], _percent(by_channel[c], total))
            for c in sorted(channels, key=lambda c: -by_channel[c])
        )
        shares.append(ChannelGroupShare(code, label, count, _percent(count, total), parts))
    return tuple(shares)


@dataclass(frozen=True)
class TypeCounts:
    code: str
    label: str
    family_code: str
    family_label: str
    counts: tuple[int, ...]  # one per window of WINDOWS


def type_counts(windows: Sequence[Mapping[str, int]]) -> tuple[TypeCounts, ...]:
    """One row per type seen in the longest window, busiest first, with its count in each."""
    codes = set().union(*windows) if windows else set()
    rows = [
        TypeCounts(
            code,
            type_label(code),
            family_of(code),
            family_label(family_of(code)) if family_of(code) else "",
            tuple(w.get(code, 0) for w in windows),
        )
        for code in codes
    ]
    return tuple(sorted(rows, key=lambda r: (tuple(-n for n in reversed(r.counts)), r.label)))


@dataclass(frozen=True)
class ActivitySummary:
    """Everything the activity part of the patron page shows."""

    period: str
    periods: tuple[tuple[str, str], ...]  # (code, label) of every period one can pick
    total: int
    first_at: datetime | None
    last_at: datetime | None
    heatmap: Heatmap
    channels: tuple[ChannelGroupShare, ...]
    windows: tuple[int, ...]
    window_totals: tuple[int, ...]
    by_type: tuple[TypeCounts, ...]


def summarise(
    period: str, shown: PatronActivity, windows: Sequence[PatronActivity]
) -> ActivitySummary:
    """``shown`` is the activity of ``period`` (heatmap, channels); ``windows`` that of each of
    :data:`WINDOWS` (counts by type)."""
    return ActivitySummary(
        period=period,
        periods=tuple((code, period_label(code)) for code in PERIODS),
        total=shown.total,
        first_at=shown.first_at,
        last_at=shown.last_at,
        heatmap=heatmap(shown.heatmap),
        channels=channel_mix(shown.by_channel),
        windows=WINDOWS,
        window_totals=tuple(w.total for w in windows),
        by_type=type_counts([w.by_type for w in windows]),
    )


def period_label(code: str) -> str:
    days = PERIODS.get(code)
    if days is None:
        return _("All time")
    return ngettext("Last %(days)d day", "Last %(days)d days", days) % {"days": days}


def since(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)
