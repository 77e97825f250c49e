"""Loans, renewals, returns, holds and due-date reminders, drawn from the visits.

A loan happens during a visit (at the desk or the self-checkout of the branch visited), of an
item from the person's discipline pools or their group's interest pool — popular items more
often. It is due after the loan period of the borrower's category; some are renewed once or
twice, some come back late, some are still out at the end of the world. Some were placed on
hold first (on the website, the app or WeChat), and the ILS sends a reminder before the due
date and a notice when it passes. Pure: no Django.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.world.activity import DAY, col, on_wechat, wechat_route
from libcrm.world.catalogue import Catalogue
from libcrm.world.groups import GROUPS
from libcrm.world.population import CATEGORIES, LOAN_DAYS, Population
from libcrm.world.rng import Draws, arange, repeat_indices, whole
from libcrm.world.subjects import POOL_INDEX, POOLS

#: Popularity: an item's position in its pool is drawn as size × u^POPULARITY.
POPULARITY = 1.8
HOLD_CHANNELS = ("web", "app", "wechat")


def draw_loans(
    visits: pa.Table, pop: Population, catalogue: Catalogue, seed: int, end: int
) -> pa.Table:
    """One row per loan: borrower record, time, branch, item (catalogue index), due time,
    renewals, last renewal and return times (null when not yet), and the hold before it."""
    draws = Draws(seed, "loans")
    person, group = col(visits, "person"), col(visits, "group")
    per_visit = pa.array([g.loans_per_visit for g in GROUPS], pa.float64())
    rate = pc.multiply(pc.take(per_visit, group), pc.take(pop.loan_factor, person))
    visit = repeat_indices(draws.poisson(rate))
    n = len(visit)
    person, group = pc.take(person, visit), pc.take(group, visit)
    record = pc.take(col(visits, "record"), visit)
    t_in, t_out = pc.take(col(visits, "t_in"), visit), pc.take(col(visits, "t_out"), visit)
    stay = pc.cast(pc.subtract(t_out, t_in), pa.float64())
    t = pc.add(t_in, whole(pc.multiply(draws.uniform(n), stay)))
    item = draw_items(person, group, pop, catalogue, draws)
    period_days = pa.array([LOAN_DAYS[c] for c in CATEGORIES], pa.int64())
    period = pc.take(period_days, pc.take(pop.record_category, record))
    loan_day = pc.divide(t, DAY)
    due_day = pc.add(loan_day, period)

    renew_share = pa.array([g.renew_share for g in GROUPS], pa.float64())
    renewals = pc.cast(draws.bernoulli(pc.take(renew_share, group)), pa.int64())
    renewals = pc.add(
        renewals, pc.cast(pc.and_(pc.greater(renewals, 0), draws.bernoulli(0.3, n)), pa.int64())
    )
    first_renewal = pc.max_element_wise(
        pc.subtract(due_day, draws.integers(n, 6)), pc.add(loan_day, 1)
    )
    second_renewal = pc.max_element_wise(
        pc.subtract(pc.add(first_renewal, period), draws.integers(n, 6)),
        pc.add(first_renewal, 1),
    )
    last_renewal_day = pc.if_else(pc.equal(renewals, 2), second_renewal, first_renewal)
    final_due = pc.if_else(pc.greater(renewals, 0), pc.add(last_renewal_day, period), due_day)
    base = pc.if_else(pc.greater(renewals, 0), last_renewal_day, loan_day)
    overdue_share = pa.array([g.overdue_share for g in GROUPS], pa.float64())
    late = draws.bernoulli(pc.take(overdue_share, group))
    on_time = pc.add(
        base,
        pc.max_element_wise(
            pc.cast(
                pc.ceil(pc.multiply(pc.power(draws.uniform(n), 0.6), pc.subtract(final_due, base))),
                pa.int64(),
            ),
            1,
        ),
    )
    late_day = pc.add(final_due, pc.add(1, whole(draws.exponential(n, 12.0))))
    return_day = pc.if_else(late, late_day, on_time)

    t_return = _daytime(return_day, draws)
    t_renewal = _daytime(last_renewal_day, draws)
    t_renewal = pc.if_else(pc.greater(renewals, 0), t_renewal, None)
    t_due = pc.add(pc.multiply(final_due, DAY), 23 * 3600 + 59 * 60)
    t_due_first = pc.add(pc.multiply(due_day, DAY), 23 * 3600 + 59 * 60)

    # Renewals and returns that would happen after the end of the world have not happened.
    t_renewal = pc.if_else(pc.less(t_renewal, end), t_renewal, None)
    renewals = pc.if_else(t_renewal.is_valid(), renewals, 0)
    t_due = pc.if_else(t_renewal.is_valid(), t_due, t_due_first)
    t_return = pc.if_else(pc.less(t_return, end), t_return, None)

    hold_share = pa.array([g.hold_share for g in GROUPS], pa.float64())
    held = draws.bernoulli(pc.take(hold_share, group))
    t_hold = pc.subtract(
        t, pc.add(pc.multiply(draws.integers(n, 8, 1), DAY), draws.integers(n, 4 * 3600))
    )
    registered = pc.multiply(pc.take(pop.first_day, person), DAY)
    t_hold = pc.if_else(pc.and_(held, pc.greater_equal(t_hold, registered)), t_hold, None)
    channel = draws.categorical(n, (0.4, 0.2, 0.4))
    hold_day = pc.divide(pc.fill_null(t_hold, 0), DAY)
    no_wechat = pc.and_(pc.equal(channel, 2), pc.invert(on_wechat(pop, person, hold_day)))
    channel = pc.if_else(no_wechat, 0, channel)
    hold_record = pc.if_else(
        pc.equal(channel, 2),
        wechat_route(pop, person, hold_day, draws),
        pc.take(pop.primary, person),
    )
    loans = pa.table(
        {
            "loan": arange(n),
            "person": person,
            "record": record,
            "group": group,
            "t": t,
            "branch": pc.take(col(visits, "branch"), visit),
            "item": item,
            "t_due": t_due,
            "renewals": renewals,
            "t_renewal": t_renewal,
            "t_return": t_return,
            "t_hold": t_hold,
            "hold_channel": pc.take(pa.array(HOLD_CHANNELS), channel),
            "hold_record": hold_record,
        }
    )
    return loans.filter(pc.less(col(loans, "t"), end))


def draw_items(
    person: pa.Array, group: pa.Array, pop: Population, catalogue: Catalogue, draws: Draws
) -> pa.Array:
    """A catalogue item per loan: from a pool chosen by the group's reading mix, popular
    items (low positions in their pool) more often."""
    n = len(person)
    which = draws.categorical_rows(group, [list(g.reading_mix) for g in GROUPS])
    interest = pa.array([POOL_INDEX[g.interest] for g in GROUPS], pa.int64())
    anything = draws.categorical(n, [p.weight for p in POOLS])
    pool = pc.if_else(
        pc.equal(which, 0),
        pc.take(pop.pool1, person),
        pc.if_else(
            pc.equal(which, 1),
            pc.take(pop.pool2, person),
            pc.if_else(pc.equal(which, 2), pc.take(interest, group), anything),
        ),
    )
    size = pc.take(pa.array(catalogue.pool_size, pa.int64()), pool)
    start = pc.take(pa.array(catalogue.pool_start, pa.int64()), pool)
    position = pc.floor(
        pc.multiply(pc.power(draws.uniform(n), POPULARITY), pc.cast(size, pa.float64()))
    )
    return pc.add(start, whole(position))


def _daytime(day: pa.Array, draws: Draws) -> pa.Array:
    """A time between 8:00 and 22:00 of ``day`` (returns at the desk or the book drop)."""
    n = len(day)
    return pc.add(pc.multiply(day, DAY), pc.add(8 * 3600, draws.integers(n, 14 * 3600)))


def held_out(loans: pa.Table, per_record: int, minimum: int) -> pa.Array:
    """True for the last ``per_record`` loans of every record with at least ``minimum`` loans:
    kept out of the ingested files, as the interactions recommendations are scored on."""
    n = loans.num_rows
    if n == 0 or per_record <= 0:
        return pa.array([False] * n)
    order = pc.sort_indices(
        loans, [("record", "ascending"), ("t", "ascending"), ("loan", "ascending")]
    )
    record = pc.take(col(loans, "record"), order)
    previous = pa.concat_arrays([pa.array([-1], pa.int64()), record.slice(0, n - 1)])
    index = arange(n)
    starts = pc.cumulative_max(pc.if_else(pc.not_equal(record, previous), index, 0))
    counts = pc.value_counts(record)
    size = pc.take(
        pc.struct_field(counts, "counts"),
        pc.index_in(record, value_set=pc.struct_field(counts, "values")),
    )
    from_end = pc.subtract(pc.subtract(size, 1), pc.subtract(index, starts))
    chosen = pc.and_(pc.greater_equal(size, minimum), pc.less(from_end, per_record))
    return pc.take(chosen, pc.sort_indices(order))  # back to the loans' own order


def reminders(loans: pa.Table, pop: Population, seed: int, end: int) -> pa.Table:
    """The ILS's messages about loans: a reminder three days before the due date and an
    overdue notice the day after it, to loans still out then — on WeChat when the person
    follows the library there, else by e-mail when the record has an address."""
    draws = Draws(seed, "reminders")
    parts = []
    due_day = pc.divide(col(loans, "t_due"), DAY)
    t_return = pc.fill_null(col(loans, "t_return"), end + DAY * 400)
    for template, offset in (("due_soon", -3), ("overdue", 1)):
        day = pc.add(due_day, offset)
        t = pc.add(pc.multiply(day, DAY), 9 * 3600)
        t = pc.add(t, draws.integers(len(t), 1800))
        out = pc.and_(pc.less(t, t_return), pc.greater(t, col(loans, "t")))
        keep = pc.and_(out, pc.less(t, end))
        chosen = loans.filter(keep)
        parts.append(
            pa.table(
                {
                    "loan": col(chosen, "loan"),
                    "person": col(chosen, "person"),
                    "record": col(chosen, "record"),
                    "t": pc.filter(t, keep),
                    "item": col(chosen, "item"),
                    "template": pa.array([template] * chosen.num_rows, pa.string()),
                }
            )
        )
    table = pa.concat_tables(parts)
    person = col(table, "person")
    day = pc.divide(col(table, "t"), DAY)
    wechat = on_wechat(pop, person, day)
    record = pc.if_else(wechat, wechat_route(pop, person, day, draws), col(table, "record"))
    has_email = pc.take(pop.record_email, col(table, "record")).is_valid()
    channel = pc.if_else(wechat, "wechat", pc.if_else(has_email, "email", None))
    table = table.set_column(table.schema.get_field_index("record"), "record", record)
    table = table.append_column("channel", channel)
    return table.filter(col(table, "channel").is_valid())
