"""Personas (用户画像) in plain words: the card on a patron's page (interests by subject, habits by
time, place and channel, engagement and lifecycle stage) and the group persona of a segment
(its typical values and distributions beside the whole population, small groups hidden).

Written for a librarian who is not a data scientist: every figure comes with a sentence that
says what it means, in the language of the page. The individual card reads the patron's profile
row and last year's events; the group persona reads the profile only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from duckdb import ColumnExpression, ConstantExpression

from libcrm.catalog import schedules
from libcrm.events.selectors import patron_activity
from libcrm.events.services import event_store
from libcrm.insight.aggregates import Breakdown, suppress_breakdown, suppress_count
from libcrm.patrons.age import AGE_BAND_LABELS, AGE_BANDS
from libcrm.patrons.models import Branch, Discipline, Patron, PatronCategory
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.segments import selectors
from libcrm.segments.compiler import compile_rule
from libcrm.segments.evaluate import run
from libcrm.segments.models import Segment
from libcrm.segments.rules import InvalidRule
from libcrm.segments.starter import LIFECYCLE

WEEKDAYS = (
    gettext_lazy("Mondays"), gettext_lazy("Tuesdays"), gettext_lazy("Wednesdays"),
    gettext_lazy("Thursdays"), gettext_lazy("Fridays"), gettext_lazy("Saturdays"),
    gettext_lazy("Sundays"),
)  # fmt: skip
HOUR_BANDS = (
    (range(6, 12), gettext_lazy("in the morning (06:00–12:00)")),
    (range(12, 18), gettext_lazy("in the afternoon (12:00–18:00)")),
    (range(18, 22), gettext_lazy("in the evening (18:00–22:00)")),
    ((*range(22, 24), *range(0, 6)), gettext_lazy("at night (22:00–06:00)")),
)
CHANNEL_FAMILIES: dict[str, tuple[str, ...]] = {
    "physical": ("channel_physical_365d",),
    "digital": ("channel_web_365d", "channel_app_365d", "channel_remote_365d"),
    "social": ("channel_wechat_365d", "channel_social_365d"),
}
"""The dashboard's channel families (in person, digital, social media) from the features."""
FAMILY_LABELS = {
    "physical": gettext_lazy("in person"),
    "digital": gettext_lazy("digital services"),
    "social": gettext_lazy("social media"),
}
ENGAGEMENT = ("engagement-high", "engagement-medium", "engagement-low")
RARELY, OFTEN = 0.10, 0.33  # shares of activities: below RARELY "rarely", from OFTEN "often"


def _zh() -> bool:
    return (get_language() or "").lower().startswith("zh")


def _pct(share: float) -> str:
    return f"{round(100 * share)}%"


def subject_label(code: str) -> str:
    """A top-level class in words: "Industrial technology (T)"; CLC first, as features are."""
    for scheme in ("clc", "lcc", "ddc"):
        entry = schedules.entry(scheme, code)
        if entry is not None:
            return f"{entry.label(get_language())} ({code})"
    return code


def _how_often(share: float) -> str:
    if share < RARELY:
        return _("rarely")
    if share < OFTEN:
        return _("sometimes")
    return _("often")


def _name(segment: Segment) -> str:
    return segment.name_zh if _zh() else segment.name_en


# --- the individual card -------------------------------------------------------------------


@dataclass
class PersonaSection:
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Persona:
    """What the card shows: sections of plain sentences; ``active`` is False for a patron
    without recorded activity (the card then says so and little else)."""

    sections: list[PersonaSection]
    active: bool
    interests: list[tuple[str, str, int]]  # (class code, label, uses), most used first
    channel_shares: dict[str, float]  # family → share of last year's activities
    engagement: str | None  # slug of the starter engagement tag the patron is in
    lifecycle: str | None  # slug of the starter lifecycle stage the patron is in


def persona_of(patron: Patron, memberships: list[dict[str, Any]] | None = None) -> Persona:
    """The persona card of ``patron`` in the current language. ``memberships`` are the
    patron's tags and segments (:func:`~.selectors.segments_of`), read again when omitted."""
    if memberships is None:
        memberships = selectors.segments_of(patron.patron_key)
    rows = selectors.profile_table(patron.patron_key).to_pylist()
    row = rows[0] if rows else {}
    active = row.get("days_since_last") is not None
    in_slugs = {m["segment"].slug: m["segment"] for m in memberships}
    interests = _interests(row)
    shares = _channel_shares(row)
    sections = [
        PersonaSection(_("Interests"), _interest_lines(interests)),
        PersonaSection(_("Habits"), _habit_lines(patron, row) if active else []),
        PersonaSection(_("Place and channel"), _place_lines(patron, row, shares, active)),
        PersonaSection(_("Engagement and lifecycle"), _engagement_lines(row, in_slugs)),
    ]
    if not active:
        sections[1].lines.append(_("No recorded activity yet."))
    return Persona(
        sections=sections,
        active=active,
        interests=interests,
        channel_shares=shares,
        engagement=next((s for s in ENGAGEMENT if s in in_slugs), None),
        lifecycle=next((s for s in LIFECYCLE if s in in_slugs), None),
    )


def show_persona(
    actor: Actor, patron: Patron, memberships: list[dict[str, Any]] | None = None
) -> Persona:
    """The persona card, with the showing recorded in the audit trail (VIEW_PERSONA)."""
    persona = persona_of(patron, memberships)
    record_audit_event(
        actor,
        AuditAction.VIEW_PERSONA,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"part": "persona"},
    )
    return persona


def _interests(row: dict[str, Any]) -> list[tuple[str, str, int]]:
    codes = row.get("top_subjects_365d") or []
    counts = row.get("top_subject_counts_365d") or []
    return [(c, subject_label(c), int(n)) for c, n in zip(codes, counts, strict=False)]


def _interest_lines(interests: list[tuple[str, str, int]]) -> list[str]:
    if not interests:
        return [_("No subject interests recorded in the last year.")]
    parts = [
        _("%(subject)s: %(n)s uses") % {"subject": label, "n": n} for _c, label, n in interests
    ]
    return [
        _("Most used subjects in the last year: %(subjects)s.") % {"subjects": "; ".join(parts)}
    ]


def _year(row: dict[str, Any]) -> tuple[datetime, datetime]:
    """The habit window of the features: the 365 days ending on the as-of date (local)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    as_of = row.get("as_of") or selectors.profile_as_of()
    since = datetime.combine(as_of - timedelta(days=364), time.min, zone)
    return since, datetime.combine(as_of + timedelta(days=1), time.min, zone)


def _habit_lines(patron: Patron, row: dict[str, Any]) -> list[str]:
    lines = []
    since, until = _year(row)
    heatmap = patron_activity(patron.patron_key, since=since, until=until).heatmap
    by_day = [sum(day) for day in heatmap]
    if sum(by_day):
        busiest = max(range(7), key=lambda d: (by_day[d], -d))
        by_band = [sum(heatmap[d][h] for d in range(7) for h in hours) for hours, _l in HOUR_BANDS]
        band = max(range(len(HOUR_BANDS)), key=lambda b: (by_band[b], -b))
        lines.append(
            _("Most active on %(weekday)s, mostly %(band)s.")
            % {"weekday": WEEKDAYS[busiest], "band": HOUR_BANDS[band][1]}
        )
    night, weekend = row.get("night_share_365d"), row.get("weekend_share_365d")
    if night is not None:
        lines.append(
            _("Uses the library at night %(how)s (%(share)s of last year's activities).")
            % {"how": _how_often(night), "share": _pct(night)}
        )
    if weekend is not None:
        lines.append(
            _("Uses the library at weekends %(how)s (%(share)s of last year's activities).")
            % {"how": _how_often(weekend), "share": _pct(weekend)}
        )
    if row.get("space_24h_uses_365d"):
        lines.append(
            _("Used a 24-hour self-service space %(n)s times in the last year.")
            % {"n": row["space_24h_uses_365d"]}
        )
    return lines


def _channel_shares(row: dict[str, Any]) -> dict[str, float]:
    counts = {f: sum(row.get(c) or 0 for c in cols) for f, cols in CHANNEL_FAMILIES.items()}
    total = sum(counts.values())
    return {f: n / total for f, n in counts.items()} if total else {}


def _branch_counts(patron_key: str, since: datetime, until: datetime) -> Counter[str]:
    """Activities per branch in [since, until) from the event store (events without a branch
    are left out)."""
    found = (
        event_store()
        .relation()
        .filter(ColumnExpression("patron_key") == ConstantExpression(patron_key))
        .filter(ColumnExpression("occurred_at") >= ConstantExpression(since))
        .filter(ColumnExpression("occurred_at") < ConstantExpression(until))
        .filter(ColumnExpression("branch").isnotnull())
        .aggregate("branch, count(*) AS n", "branch")
        .fetchall()
    )
    return Counter({str(b): int(n) for b, n in found if b})


def _branch_name(code: str, branches: dict[str, Branch]) -> str:
    branch = branches.get(code)
    if branch is None:
        return code
    return branch.name_zh if _zh() else branch.name_en


def _place_lines(
    patron: Patron, row: dict[str, Any], shares: dict[str, float], active: bool
) -> list[str]:
    lines = []
    counts = _branch_counts(patron.patron_key, *_year(row)) if active else Counter()
    codes = {*counts, *([patron.home_branch.code] if patron.home_branch_id else [])}
    branches = {b.code: b for b in Branch.objects.filter(code__in=codes)}
    if patron.home_branch_id:
        lines.append(
            _("Home branch: %(branch)s.")
            % {"branch": _branch_name(patron.home_branch.code, branches)}
        )
    if counts:
        code, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        lines.append(
            _(
                "Most used branch in the last year: %(branch)s "
                "(%(share)s of activities at a branch)."
            )
            % {"branch": _branch_name(code, branches), "share": _pct(n / sum(counts.values()))}
        )
    if shares:
        parts = [f"{FAMILY_LABELS[f]} {_pct(s)}" for f, s in shares.items()]
        lines.append(_("Channels in the last year: %(parts)s.") % {"parts": ", ".join(parts)})
    if not lines:
        lines.append(_("No branch or channel recorded."))
    return lines


def _engagement_lines(row: dict[str, Any], segments: dict[str, Segment]) -> list[str]:
    lines = []
    if row:
        lines.append(
            _("Recency score %(r)s of 5 and frequency score %(f)s of 5 (5 is the most engaged).")
            % {"r": row.get("recency_score"), "f": row.get("frequency_score")}
        )
    level = next((segments[s] for s in ENGAGEMENT if s in segments), None)
    if level is not None:
        lines.append(_("Engagement: %(level)s.") % {"level": _name(level)})
    stage = next((segments[s] for s in LIFECYCLE if s in segments), None)
    if stage is not None:
        lines.append(_("Lifecycle stage: %(stage)s.") % {"stage": _name(stage)})
    if row.get("days_since_last") is not None:
        lines.append(
            _("Last activity %(days)s days ago; first recorded activity on %(first)s.")
            % {"days": row["days_since_last"], "first": row.get("first_seen")}
        )
    return lines


# --- the group persona ----------------------------------------------------------------------


@dataclass
class Distribution:
    """One attribute's mix in the segment beside the population; rows are (label, segment
    cell, segment share or None, population share or None)."""

    title: str
    rows: list[tuple[str, Any, float | None, float | None]]


@dataclass
class GroupPersona:
    size: int | None  # None when the segment counts fewer than k (then nothing else is shown)
    population: int
    k: int
    typical: list[tuple[str, Any, Any]] = field(default_factory=list)  # (label, segment, all)
    distributions: list[Distribution] = field(default_factory=list)
    problem: str = ""


TYPICAL = (
    ("loans_events_365d", gettext_lazy("Loans in the last year (median)")),
    ("visits_days_90d", gettext_lazy("Days with a visit in the last 90 days (median)")),
    ("digital_events_365d", gettext_lazy("Digital resource uses in the last year (median)")),
    ("downloads_365d", gettext_lazy("Downloads in the last year (median)")),
    ("days_since_last", gettext_lazy("Days since the last activity (median)")),
    ("tenure_days", gettext_lazy("Days since registration (median)")),
)


def group_persona(segment: Segment, k: int | None = None) -> GroupPersona:
    """The segment's typical values and distributions beside the whole population (the
    active patrons of the profile). Every count is k-suppressed; a segment of fewer than k
    members shows only that."""
    k = settings.LIBCRM_MIN_GROUP_SIZE if k is None else k
    profile = selectors.profile_table()
    if segment.current_version is None:
        return GroupPersona(None, profile.num_rows, k, problem=_("No rule yet."))
    resolve, as_of = selectors.rule_resolver(), selectors.profile_as_of()
    catalogue = selectors.segment_catalogue()
    try:
        members = _members(segment.slug, resolve, catalogue, as_of, profile)
        stages = {
            slug: _members(slug, resolve, catalogue, as_of, profile)
            for slug in LIFECYCLE
            if resolve(slug) is not None
        }
    except InvalidRule as exc:
        return GroupPersona(None, profile.num_rows, k, problem=exc.errors[0].message(
            "zh" if _zh() else "en"))  # fmt: skip
    group = profile.filter(
        pc.is_in(profile.column("patron_key"), pa.array(sorted(members), pa.string()))
    )
    persona = GroupPersona(group.num_rows, profile.num_rows, k)
    if 0 < group.num_rows < k:
        persona.size = None
        return persona
    if group.num_rows == 0:
        return persona
    persona.typical = [
        (label, _median(group, name), _median(profile, name)) for name, label in TYPICAL
    ]
    persona.typical.append((
        _("Active in the last 90 days (share)"),
        _pct(_share_active(group)), _pct(_share_active(profile)),
    ))  # fmt: skip
    persona.distributions = [
        _distribution(_("Patron category"), group, profile, "category",
                      [(c.value, str(c.label)) for c in PatronCategory], k),
        _distribution(_("Age band"), group, profile, "age_band",
                      [(b.code, _(AGE_BAND_LABELS[b.code])) for b in AGE_BANDS], k),
        _distribution(_("Discipline"), group, profile, "discipline",
                      [(d.value, str(d.label)) for d in Discipline], k),
        _membership_mix(_("Lifecycle stage"), group, profile, stages, k),
        _families(group, profile, k),
        _subjects(group, profile, k),
    ]  # fmt: skip
    return persona


def _members(slug: str, resolve: Any, catalogue: Any, as_of: Any, profile: pa.Table) -> set[str]:
    rule = resolve(slug)
    compiled = compile_rule(rule, catalogue, as_of, resolve, slug=slug)
    return set(run(compiled, profile, reasons=False).column("patron_key").to_pylist())


def _median(table: pa.Table, name: str) -> Any:
    values = [v for v in table.column(name).to_pylist() if v is not None]
    if not values:
        return "—"
    m = statistics.median(values)
    return round(m) if float(m).is_integer() else round(m, 1)


def _share_active(table: pa.Table) -> float:
    if table.num_rows == 0:
        return 0.0
    active = pc.sum(pc.greater(table.column("all_days_90d"), 0)).as_py() or 0
    return active / table.num_rows


def _share(cell_count: int | None, total: int | None) -> float | None:
    if cell_count is None or not total:
        return None
    return cell_count / total


def _rows(
    seg: Breakdown, pop: Breakdown, labels: dict[str, str]
) -> list[tuple[str, Any, float | None, float | None]]:
    seg_total = seg.total.count if seg.total is not None else None
    pop_total = pop.total.count if pop.total is not None else None
    return [
        (
            labels[cell.key],
            cell,
            _share(cell.count, seg_total),
            _share(pop.cell(cell.key).count, pop_total),
        )
        for cell in seg.cells
    ]


def _counts(table: pa.Table, name: str, keys: Iterable[str]) -> list[tuple[str, str, int]]:
    found = Counter(v if v is not None else "" for v in table.column(name).to_pylist())
    return [(key, key, found.get(key, 0)) for key in keys]


def _distribution(
    title: str,
    group: pa.Table,
    profile: pa.Table,
    name: str,
    choices: list[tuple[str, str]],
    k: int,
) -> Distribution:
    choices = [*choices, ("", _("Not recorded"))]
    labels = dict(choices)
    keys = [key for key, _l in choices]
    seg = suppress_breakdown(_counts(group, name, keys), k)
    pop = suppress_breakdown(_counts(profile, name, keys), k)
    return Distribution(title, _rows(seg, pop, labels))


def _membership_mix(
    title: str, group: pa.Table, profile: pa.Table, stages: dict[str, set[str]], k: int
) -> Distribution:
    names = dict(
        Segment.objects.filter(slug__in=stages).values_list(
            "slug", "name_zh" if _zh() else "name_en"
        )
    )
    labels = {slug: names.get(slug, slug) for slug in stages}
    labels[""] = _("No recorded activity")

    def counts(table: pa.Table) -> list[tuple[str, str, int]]:
        keys = set(table.column("patron_key").to_pylist())
        out = [(slug, slug, len(keys & members)) for slug, members in stages.items()]
        staged = set().union(*stages.values()) if stages else set()
        return [*out, ("", "", len(keys - staged))]

    seg = suppress_breakdown(counts(group), k)
    pop = suppress_breakdown(counts(profile), k)
    return Distribution(title, _rows(seg, pop, labels))


def _patrons_using(table: pa.Table, columns: tuple[str, ...]) -> int:
    used = None
    for c in columns:
        mask = pc.greater(pc.fill_null(table.column(c), 0), 0)
        used = mask if used is None else pc.or_(used, mask)
    return int(pc.sum(used).as_py() or 0) if used is not None else 0


def _families(group: pa.Table, profile: pa.Table, k: int) -> Distribution:
    """Patrons who used each channel family in the last year (one can count in several, so
    each figure stands alone: primary suppression)."""
    rows = []
    for family, columns in CHANNEL_FAMILIES.items():
        seg = suppress_count(family, family, _patrons_using(group, columns), k)
        pop = suppress_count(family, family, _patrons_using(profile, columns), k)
        share = _share(seg.count, group.num_rows)
        label = str(FAMILY_LABELS[family]).capitalize()
        rows.append((label, seg, share, _share(pop.count, profile.num_rows)))
    return Distribution(_("Channels used in the last year (a patron can use several)"), rows)


def _subjects(group: pa.Table, profile: pa.Table, k: int, limit: int = 8) -> Distribution:
    """Patrons with each class among their top subjects: the classes shared by at least k
    members, most common first (each figure stands alone)."""

    def counts(table: pa.Table) -> Counter[str]:
        found: Counter[str] = Counter()
        for codes in table.column("top_subjects_365d").to_pylist():
            found.update(set(codes or []))
        return found

    seg, pop = counts(group), counts(profile)
    shown = [(c, n) for c, n in sorted(seg.items(), key=lambda kv: (-kv[1], kv[0])) if n >= k]
    rows = [
        (subject_label(code), suppress_count(code, code, n, k), _share(n, group.num_rows),
         _share(pop[code], profile.num_rows))
        for code, n in shown[:limit]
    ]  # fmt: skip
    return Distribution(_("Top subjects (patrons with the class among their top three)"), rows)
