"""Sessions: when each person comes to the library, on which channel, at what time.

Every person × day of the year is one cell whose expected number of sessions is the person's
activity × their group's rate × the day's factor (weekday, academic phase, public holiday);
a Poisson draw gives the sessions, each is given a kind (visit, e-resource, web, app, WeChat,
booking, consultation, feedback) and an hour from the group's profiles. Visits then get a
branch — the 24-hour self-service library when the chosen branch is shut, which is where the
night goes — a length, and gates. All of it column-wise (Arrow kernels). Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.world import campus
from libcrm.world.groups import GROUPS, HOME, KINDS
from libcrm.world.population import BRANCH_CODES, BRANCH_INDEX, Population
from libcrm.world.rng import Draws, arange, repeat_indices, whole
from libcrm.world.seasons import CalendarDay

DAY = 86_400
KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}
VISIT, ERESOURCE, WEB, APP, WECHAT, BOOKING, CONSULT, VOICE = range(len(KINDS))
#: Where visits go (branch-mix columns): the person's home branch, then every branch.
_MIX_COLUMNS = (HOME, *BRANCH_CODES)
SELF_SERVICE = BRANCH_INDEX[campus.SELF_SERVICE]
COMMUNITY = BRANCH_INDEX[campus.COMMUNITY]
#: Longest stay: the gates' systems close a visit after eight hours.
MAX_VISIT_SECONDS = 8 * 3600


def day_factors(calendar: Sequence[CalendarDay]) -> list[list[float]]:
    """factor[group][day]: weekday × academic phase × public holiday."""
    out = []
    for group in GROUPS:
        row = []
        for day in calendar:
            factor = group.weekdays[day.weekday] * group.seasons[day.phase]
            if day.holiday:
                factor *= group.holiday
            row.append(factor)
        out.append(row)
    return out


def col(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def draw_sessions(pop: Population, calendar: Sequence[CalendarDay], seed: int) -> pa.Table:
    """One row per session: person, day, t (seconds since the first day's midnight), kind."""
    draws = Draws(seed, "sessions")
    days = len(calendar)
    factors = day_factors(calendar)
    totals = [sum(g.rates.values()) for g in GROUPS]
    # Rate of a group on a day, flattened: index group * days + day.
    flat = pa.array([totals[g] * f for g, row in enumerate(factors) for f in row], pa.float64())
    cells = arange(pop.persons * days)
    person = pc.divide(cells, days)  # integer division
    day = pc.subtract(cells, pc.multiply(person, days))
    group = pc.take(pop.group, person)
    rate = pc.take(flat, pc.add(pc.multiply(group, days), day))
    active = pc.and_(
        pc.greater_equal(day, pc.take(pop.first_day, person)),
        pc.less_equal(day, pc.take(pop.last_day, person)),
    )
    rate = pc.multiply(
        pc.multiply(rate, pc.take(pop.activity, person)), pc.cast(active, pa.float64())
    )
    counts = draws.poisson(rate)
    cell = repeat_indices(counts)
    person = pc.take(person, cell)
    day = pc.take(day, cell)
    group = pc.take(group, cell)
    kind_table = [[g.rates[k] for k in KINDS] for g in GROUPS]
    kind = draws.categorical_rows(group, kind_table)
    # Without a WeChat identity, WeChat use is the website instead.
    no_wechat = pc.and_(pc.equal(kind, WECHAT), pc.invert(on_wechat(pop, person, day)))
    kind = pc.if_else(no_wechat, WEB, kind)
    # One visit per person and day: a second one is folded into the first.
    repeat = pc.and_(
        pc.equal(kind, VISIT),
        _same_as_previous_visit(cell, kind),
    )
    keep = pc.invert(repeat)
    person, day, group, kind = (pc.filter(a, keep) for a in (person, day, group, kind))
    hour_table = [list(g.hour_weights(k)) for g in GROUPS for k in KINDS]
    hour = draws.categorical_rows(pc.add(pc.multiply(group, len(KINDS)), kind), hour_table)
    second = draws.integers(len(hour), 3600)
    t = pc.add(pc.multiply(day, DAY), pc.add(pc.multiply(hour, 3600), second))
    return pa.table({"person": person, "day": day, "group": group, "kind": kind, "t": t})


def _same_as_previous_visit(cell: pa.Array, kind: pa.Array) -> pa.Array:
    """True for a visit whose cell already had a visit earlier in the (cell-ordered) list."""
    visit_rows = pc.indices_nonzero(pc.equal(kind, VISIT))
    visit_cells = pc.take(cell, visit_rows)
    n = len(visit_cells)
    if n == 0:
        return pa.array([False] * len(kind))
    previous = pa.concat_arrays([pa.array([-1], pa.int64()), visit_cells.slice(0, n - 1)])
    repeated = pc.equal(visit_cells, previous)
    out = pa.array([False] * len(kind))
    return pc.replace_with_mask(out, pc.equal(kind, VISIT), repeated)


def route(
    pop: Population,
    person: pa.Array,
    day: pa.Array,
    duplicate: pa.Array,
    share: float | pa.Array,
    draws: Draws,
) -> pa.Array:
    """The record a session of ``person`` goes to: the person's duplicate of one kind (one
    record index per person in ``duplicate``, -1 for none) with probability ``share`` when that
    record exists and is active that day, else the primary registration."""
    other = pc.take(duplicate, person)
    safe = pc.max_element_wise(other, 0)
    usable = pc.and_(
        pc.greater_equal(other, 0),
        pc.and_(
            pc.greater_equal(day, pc.take(pop.record_first_day, safe)),
            pc.less_equal(day, pc.take(pop.record_last_day, safe)),
        ),
    )
    chosen = pc.and_(usable, draws.bernoulli(share, len(person)))
    return pc.if_else(chosen, other, pc.take(pop.primary, person))


def on_wechat(pop: Population, person: pa.Array, day: pa.Array) -> pa.Array:
    """Whether each person follows the library on WeChat on that day (has an openid on a
    record registered by then)."""
    return pc.greater_equal(day, pc.take(pop.wechat_from, person))


def wechat_route(pop: Population, person: pa.Array, day: pa.Array, draws: Draws) -> pa.Array:
    """The record whose openid a WeChat interaction carries: the person's WeChat registration
    (nine times in ten while it is active), else the record that holds their openid. Only for
    people :func:`on_wechat` that day."""
    routed = route(pop, person, day, pop.wechat_record, 0.9, draws)
    primary = pc.take(pop.primary, person)
    return pc.if_else(pc.equal(routed, primary), pc.take(pop.openid_record, person), routed)


def draw_visits(
    sessions: pa.Table, pop: Population, calendar: Sequence[CalendarDay], seed: int
) -> pa.Table:
    """The visit sessions with a branch, entry and exit times, gates and the record whose
    card opened the gate."""
    draws = Draws(seed, "visits")
    visits = sessions.filter(pc.equal(col(sessions, "kind"), VISIT))
    person, day, group, t_in = (col(visits, n) for n in ("person", "day", "group", "t"))
    n = len(person)
    mix = [[g.branches.get(c, 0.0) for c in _MIX_COLUMNS] for g in GROUPS]
    choice = draws.categorical_rows(group, mix)
    home = pc.take(pop.home_branch, person)
    branch = pc.if_else(pc.equal(choice, 0), home, pc.subtract(choice, 1))
    branch = _open_branch(branch, day, pc.subtract(t_in, pc.multiply(day, DAY)), calendar)
    minutes = pa.array([g.visit_minutes for g in GROUPS], pa.float64())
    length = draws.lognormal(n, pc.take(minutes, group), 0.55)
    length = whole(pc.max_element_wise(pc.multiply(length, 60.0), 300.0))
    closing = pa.array([campus.OPENING_HOURS[b][1] * 60 for b in BRANCH_CODES], pa.int64())
    closes_at = pc.add(pc.multiply(day, DAY), pc.take(closing, branch))
    stay_limit = pc.add(t_in, MAX_VISIT_SECONDS)
    stay_limit = pc.if_else(
        pc.equal(branch, SELF_SERVICE), stay_limit, pc.min_element_wise(stay_limit, closes_at)
    )
    t_out = pc.min_element_wise(pc.add(t_in, length), stay_limit)
    t_out = pc.max_element_wise(t_out, pc.add(t_in, 60))
    record = route(pop, person, day, pop.community_record, 0.85, draws)
    not_community = pc.not_equal(branch, COMMUNITY)
    record = pc.if_else(not_community, pc.take(pop.primary, person), record)
    gates_in, gates_out = _gates(branch, draws), _gates(branch, draws)
    tailgated = draws.bernoulli(0.005, n)  # left behind someone else: no exit passage
    return pa.table(
        {
            "person": person,
            "record": record,
            "group": group,
            "day": day,
            "branch": branch,
            "t_in": t_in,
            "t_out": t_out,
            "gate_in": gates_in,
            "gate_out": gates_out,
            "exit_recorded": pc.invert(tailgated),
        }
    )


def _open_branch(
    branch: pa.Array, day: pa.Array, minute_of_day_s: pa.Array, calendar: Sequence[CalendarDay]
) -> pa.Array:
    """Visits to a branch that is shut at that hour (or for the Spring Festival) go to the
    24-hour self-service library instead."""
    opening = pa.array([campus.OPENING_HOURS[b][0] * 60 for b in BRANCH_CODES], pa.int64())
    closing = pa.array([campus.OPENING_HOURS[b][1] * 60 - 600 for b in BRANCH_CODES], pa.int64())
    shut = pc.or_(
        pc.less(minute_of_day_s, pc.take(opening, branch)),
        pc.greater(minute_of_day_s, pc.take(closing, branch)),
    )
    campus_closed = pa.array([d.campus_closed for d in calendar], pa.bool_())
    community_closed = pa.array([d.community_closed for d in calendar], pa.bool_())
    is_campus = pc.is_in(branch, pa.array([BRANCH_INDEX[b] for b in campus.CAMPUS_BRANCHES]))
    shut = pc.or_(shut, pc.and_(is_campus, pc.take(campus_closed, day)))
    shut = pc.or_(shut, pc.and_(pc.equal(branch, COMMUNITY), pc.take(community_closed, day)))
    return pc.if_else(shut, SELF_SERVICE, branch)


def _gates(branch: pa.Array, draws: Draws) -> pa.Array:
    """A gate of each visit's branch (index into campus.GATES)."""
    by_branch: list[list[int]] = [[] for _ in BRANCH_CODES]
    for index, gate in enumerate(campus.GATES):
        by_branch[BRANCH_INDEX[gate.branch]].append(index)
    first = pa.array([gates[0] for gates in by_branch], pa.int64())
    count = pa.array([len(gates) for gates in by_branch], pa.int64())
    return pc.add(pc.take(first, branch), draws.integers(len(branch), pc.take(count, branch)))
