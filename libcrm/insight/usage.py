"""The usage dashboard's figures (M16): active patrons, channel mix, the 24 × 7 heatmap, new
versus returning patrons — computed by DuckDB over the event store, suppressed before they
leave this module.

Every figure counts *distinct patrons* (the anonymous key of anonymised events excluded), so a
busy patron cannot make a cell look like a crowd; a cell about fewer than k patrons is hidden
(:mod:`libcrm.insight.aggregates`). Event counts are shown only beside a patron count that is
shown. Months and hours are the library's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from libcrm.events import schema
from libcrm.insight.aggregates import Breakdown, Cell, Group, suppress_count, suppress_series

#: Channel families of the dashboard's mix: 到馆 (in person), 数字 (digital), 社交 (social).
CHANNEL_FAMILIES: dict[str, tuple[str, ...]] = {
    "physical": ("physical", "kiosk"),
    "digital": ("web", "app", "email", "phone"),
    "social": ("wechat", "weibo", "douyin", "bilibili"),
}
FAMILY_OF = {c: family for family, channels in CHANNEL_FAMILIES.items() for c in channels}


@dataclass(frozen=True)
class MonthMix:
    month: str
    patrons: dict[str, Cell]  # family → distinct patrons (suppressed)
    events: dict[str, int | None]  # family → events, None where the patron count is hidden


@dataclass
class UsageDashboard:
    months: list[str]
    active: Breakdown  # distinct active patrons per month
    new: Breakdown  # patrons whose first event falls in the month
    returning: Breakdown  # active in the month, first seen before it
    mix: list[MonthMix]
    heatmap: list[list[Cell]]  # [weekday 0=Monday][hour] distinct patrons
    k: int
    total_events: int = 0
    notes: list[str] = field(default_factory=list)


def month_starts(until: date, count: int) -> list[date]:
    first = until.replace(day=1)
    months = []
    for _ in range(count):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return sorted(months)


def usage_dashboard(
    cur: duckdb.DuckDBPyConnection,
    *,
    tz: str,
    until: date,
    months: int,
    k: int,
) -> UsageDashboard:
    """The dashboard over ``months`` calendar months ending with ``until``'s month. ``cur``
    must have a view ``events`` of the store (merged keys resolved)."""
    starts = month_starts(until, months)
    zone = ZoneInfo(tz)
    end = (starts[-1] + timedelta(days=32)).replace(day=1)
    params = {
        "tz": tz,
        "anonymous": schema.ANONYMOUS_PATRON_KEY,
        "since": datetime.combine(starts[0], time(), zone),
        "until": datetime.combine(end, time(), zone),
        "first_month": starts[0].strftime("%Y-%m"),
    }
    labels = [m.strftime("%Y-%m") for m in starts]
    cur.register("channel_families", _families_table())
    # one scan: the window's rows reduced to what the figures need, in local time
    cur.execute(
        """
        CREATE OR REPLACE TEMP TABLE usage_window AS
        SELECT e.patron_key,
               coalesce(f.family, 'other') AS family,
               strftime(timezone($tz, e.occurred_at), '%Y-%m') AS month,
               isodow(timezone($tz, e.occurred_at)) - 1 AS weekday,
               hour(timezone($tz, e.occurred_at)) AS hour
        FROM events e LEFT JOIN channel_families f ON e.channel = f.channel
        WHERE e.patron_key <> $anonymous AND e.occurred_at >= $since AND e.occurred_at < $until
        """,
        {k: params[k] for k in ("tz", "anonymous", "since", "until")},
    )
    active = dict(
        cur.execute(
            "SELECT month, count(DISTINCT patron_key) FROM usage_window GROUP BY month"
        ).fetchall()
    )
    new = dict(
        cur.execute(
            "SELECT first, count(*) FROM (SELECT patron_key, "
            "strftime(timezone($tz, min(occurred_at)), '%Y-%m') AS first FROM events "
            "WHERE patron_key <> $anonymous GROUP BY patron_key) "
            "WHERE first >= $first_month GROUP BY first",
            {k: params[k] for k in ("tz", "anonymous", "first_month")},
        ).fetchall()
    )
    family_rows = cur.execute(
        "SELECT month, family, count(DISTINCT patron_key), count(*) FROM usage_window "
        "GROUP BY month, family"
    ).fetchall()
    heat = cur.execute(
        "SELECT weekday, hour, count(DISTINCT patron_key) FROM usage_window GROUP BY ALL"
    ).fetchall()
    (total_events,) = cur.execute("SELECT count(*) FROM usage_window").fetchone() or (0,)
    cur.execute("DROP TABLE usage_window")

    def series(values: dict[str, int]) -> Breakdown:
        points: list[Group] = [(m, m, int(values.get(m, 0))) for m in labels]
        return suppress_series(points, k)

    returning = {m: int(active.get(m, 0)) - int(new.get(m, 0)) for m in labels}
    by_month: dict[str, dict[str, tuple[int, int]]] = {}
    for month, family, patrons, events in family_rows:
        by_month.setdefault(month, {})[family] = (int(patrons), int(events))
    mix = []
    for m in labels:
        cells, events = {}, {}
        for family in CHANNEL_FAMILIES:
            patrons, n = by_month.get(m, {}).get(family, (0, 0))
            cell = suppress_count(family, family, patrons, k)
            cells[family] = cell
            events[family] = None if cell.hidden else n
        mix.append(MonthMix(m, cells, events))
    grid = [[suppress_count(f"{d}-{h}", "", 0, k) for h in range(24)] for d in range(7)]
    for weekday, hour, patrons in heat:
        grid[int(weekday)][int(hour)] = suppress_count(f"{weekday}-{hour}", "", int(patrons), k)
    return UsageDashboard(
        months=labels,
        active=series(active),
        new=series(new),
        returning=series(returning),
        mix=mix,
        heatmap=grid,
        k=k,
        total_events=int(total_events),
    )


def _families_table() -> pa.Table:
    channels = sorted(FAMILY_OF)
    return pa.table({"channel": channels, "family": [FAMILY_OF[c] for c in channels]})
