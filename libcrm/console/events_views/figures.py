"""Figures about the whole event store for the overview page: events by month, type, channel and
source, and how many patrons each concerns.

Counts of *events* describe no one and are shown as counted. Counts of *patrons* (active in the
last 30 days, in a month, using a channel) describe groups of people, so each goes through
:func:`libcrm.insight.aggregates.suppress_count`: none of them is shown beside a total that
would let a hidden one be worked out (a patron can be in several months and types, so these
rows have no total), which is the case where primary suppression is enough.

Patron counts are DuckDB aggregates over the store's relation, built from expressions (never
SQL text with values in it) and remembered per store generation and day, like the store's own
overview.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from libcrm.console.events_views.labels import channel_label, family_of, type_label
from libcrm.events import selectors
from libcrm.events.schema import ANONYMOUS_PATRON_KEY
from libcrm.events.services import event_store
from libcrm.events.store import StoreOverview
from libcrm.insight.aggregates import Cell, suppress_count

#: The months the column chart shows (the table below it lists every month).
CHART_MONTHS = 24
ACTIVE_WINDOWS = (30, 365)


@dataclass(frozen=True)
class FigureRow:
    key: str
    label: str
    events: int
    patrons: Cell
    family: str = ""

    @property
    def month_number(self) -> str:
        """For month rows ("2025-03"): the month's number, as the chart's axis shows it."""
        return str(int(self.key[5:7])) if len(self.key) == 7 else ""

    @property
    def year(self) -> str:
        return self.key[:4]


@dataclass(frozen=True)
class StoreFigures:
    overview: StoreOverview
    months: tuple[FigureRow, ...]
    chart_months: tuple[FigureRow, ...]
    by_type: tuple[FigureRow, ...]
    by_channel: tuple[FigureRow, ...]
    by_source: tuple[FigureRow, ...]
    active: tuple[tuple[int, Cell], ...]  # (days, patrons active in the last ``days`` days)
    patrons: Cell  # patrons with any event
    k: int

    @property
    def largest_month(self) -> int:
        return max((m.events for m in self.chart_months), default=0)

    @property
    def largest_type(self) -> int:
        return max((r.events for r in self.by_type), default=0)

    @property
    def largest_channel(self) -> int:
        return max((r.events for r in self.by_channel), default=0)

    @property
    def largest_source(self) -> int:
        return max((r.events for r in self.by_source), default=0)


@dataclass(frozen=True)
class _PatronCounts:
    total: int
    active: dict[int, int]
    by_month: dict[str, int]
    by_type: dict[str, int]
    by_channel: dict[str, int]
    by_source: dict[str, int]


_cache: dict[tuple[str, int, str, date], _PatronCounts] = {}
_cache_guard = threading.Lock()


def _distinct_by(rel: duckdb.DuckDBPyRelation, key: duckdb.Expression) -> dict[str, int]:
    pairs = rel.select(key.alias("k"), duckdb.ColumnExpression("patron_key")).distinct()
    return {k: int(n) for k, n in pairs.aggregate("k, count(*) AS n", "k").fetchall() if k}


def _patron_counts(tz: str, now: datetime) -> _PatronCounts:
    store = event_store()
    manifest = store.manifest
    key = (manifest.store_id, manifest.generation, tz, now.date())
    with _cache_guard:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    column = duckdb.ColumnExpression
    constant = duckdb.ConstantExpression
    function = duckdb.FunctionExpression
    rel = store.relation().filter(column("patron_key") != constant(ANONYMOUS_PATRON_KEY))
    people = rel.select(column("patron_key")).distinct()
    active = {}
    for days in ACTIVE_WINDOWS:
        recent = rel.filter(column("occurred_at") >= constant(now - timedelta(days=days)))
        active[days] = int(recent.select(column("patron_key")).distinct().count("*").fetchone()[0])
    local = function("timezone", constant(tz), column("occurred_at"))
    counts = _PatronCounts(
        total=int(people.count("*").fetchone()[0]),
        active=active,
        by_month=_distinct_by(rel, function("strftime", local, constant("%Y-%m"))),
        by_type=_distinct_by(rel, column("type")),
        by_channel=_distinct_by(rel, column("channel")),
        by_source=_distinct_by(rel, column("source")),
    )
    with _cache_guard:
        if len(_cache) > 8:
            _cache.clear()
        _cache[key] = counts
    return counts


def _month_label(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return date_format(date(year, number, 1), "YEAR_MONTH_FORMAT")


def _rows(
    events: Mapping[str, int],
    patrons: Mapping[str, int],
    label: Callable[[str], str],
    k: int,
    family: Callable[[str], str] | None = None,
) -> tuple[FigureRow, ...]:
    return tuple(
        FigureRow(
            key,
            label(key),
            n,
            suppress_count(key, label(key), patrons.get(key, 0), k),
            family(key) if family else "",
        )
        for key, n in events.items()
    )


def _every_month(by_month: Mapping[str, int]) -> dict[str, int]:
    """``by_month`` with the months between its first and last filled in with 0, so that a
    quiet month shows as a gap in the chart instead of disappearing from it."""
    if not by_month:
        return {}
    first, last = min(by_month), max(by_month)
    year, month = (int(part) for part in first.split("-"))
    filled: dict[str, int] = {}
    while (key := f"{year:04d}-{month:02d}") <= last:
        filled[key] = by_month.get(key, 0)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return filled


def store_figures(now: datetime | None = None, k: int | None = None) -> StoreFigures:
    """Every figure of the store overview page; patron counts suppressed below ``k``."""
    now = now or timezone.now()
    k = settings.LIBCRM_MIN_GROUP_SIZE if k is None else k
    tz = settings.TIME_ZONE
    overview = selectors.store_overview()
    patrons = _patron_counts(tz, now)
    months = _rows(_every_month(overview.by_month), patrons.by_month, _month_label, k)
    return StoreFigures(
        overview=overview,
        months=months,
        chart_months=months[-CHART_MONTHS:],
        by_type=_rows(overview.by_type, patrons.by_type, type_label, k, family_of),
        by_channel=_rows(overview.by_channel, patrons.by_channel, channel_label, k),
        by_source=_rows(overview.by_source, patrons.by_source, str, k),
        active=tuple(
            (days, suppress_count(f"active_{days}", "", patrons.active[days], k))
            for days in ACTIVE_WINDOWS
        ),
        patrons=suppress_count("patrons", "", patrons.total, k),
        k=k,
    )
