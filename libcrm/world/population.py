"""The world's people as columns: one row per person (group, activity, active days, home
branch, reading pools, their other records) and one per patron record (who it belongs to, what
kind of registration it is, its identifiers and active days).

Built with a small Python loop per person and per record — thousands, not millions — so that
:mod:`libcrm.world.activity` can draw every event with Arrow kernels. Pure: no Django.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from libcrm.world import campus
from libcrm.world.duplicates import COMMUNITY, ERESOURCE, WECHAT, Duplicate
from libcrm.world.generate import PatronSpec
from libcrm.world.groups import BY_CODE, GROUP_CODES
from libcrm.world.subjects import DISCIPLINE_POOLS, POOL_INDEX

BRANCH_CODES: tuple[str, ...] = tuple(b.code for b in campus.BRANCHES)
BRANCH_INDEX = {code: i for i, code in enumerate(BRANCH_CODES)}
DISCIPLINES: tuple[str, ...] = tuple(DISCIPLINE_POOLS)
CATEGORIES: tuple[str, ...] = (
    "undergraduate", "postgraduate", "faculty", "staff", "resident", "child", "visitor", "alumnus",
)  # fmt: skip
#: Loan period in days by category (Koha circulation rules of the demo library).
LOAN_DAYS = {
    "undergraduate": 30, "postgraduate": 60, "faculty": 90, "staff": 60, "resident": 30,
    "child": 30, "visitor": 14, "alumnus": 30,
}  # fmt: skip
PRIMARY = "primary"
NEVER = 10**9  # a day index no world reaches


@dataclass(frozen=True)
class Population:
    """Per-person columns (``person_*``) and per-record columns (``record_*``)."""

    persons: int
    records: int
    days: int
    group: pa.Array
    activity: pa.Array
    first_day: pa.Array
    last_day: pa.Array
    home_branch: pa.Array
    discipline: pa.Array
    pool1: pa.Array
    pool2: pa.Array
    loan_factor: pa.Array
    primary: pa.Array  # the person's first registration (a record index)
    wechat_record: pa.Array  # -1 when the person has no such duplicate
    community_record: pa.Array
    eresource_record: pa.Array
    wechat_from: pa.Array  # first day the person can be reached on WeChat (NEVER: not at all)
    openid_record: pa.Array  # the record whose openid WeChat sees by default (-1: none)
    record_person: pa.Array
    record_kind: tuple[str, ...]
    record_first_day: pa.Array
    record_last_day: pa.Array
    record_category: pa.Array  # index into CATEGORIES
    record_card: pa.Array
    record_openid: pa.Array  # null when the record has none
    record_email: pa.Array
    record_phone: pa.Array


def _identifier(spec: PatronSpec, kind: str) -> str | None:
    return next((i.value for i in spec.identifiers if i.kind == kind), None)


def _window(spec: PatronSpec, start: date, days: int) -> tuple[int, int]:
    first = max(0, (spec.registered_on - start).days)
    last = days - 1
    if spec.expires_on is not None:
        last = min(last, (spec.expires_on - start).days)
    return first, last


def build_population(
    people: Sequence[PatronSpec],
    groups: Sequence[str],
    records: Sequence[PatronSpec],
    record_person: Sequence[int],
    record_kind: Sequence[str],
    start: date,
    days: int,
    rng: random.Random,
) -> Population:
    """Columns for ``people`` and their ``records`` (primary registrations and duplicates)."""
    n = len(people)
    primary = [-1] * n
    extra = {WECHAT: [-1] * n, COMMUNITY: [-1] * n, ERESOURCE: [-1] * n}
    for index, (person, kind) in enumerate(zip(record_person, record_kind, strict=True)):
        if kind == PRIMARY:
            primary[person] = index
        else:
            extra[kind][person] = index
    columns: dict[str, list] = {k: [] for k in ("first", "last", "activity", "p1", "p2", "lf")}
    has_openid = [False] * n
    for index, (spec, code) in enumerate(zip(people, groups, strict=True)):
        group = BY_CODE[code]
        first, last = _window(spec, start, days)
        if group.lapses and last >= first:
            last = first + int((last - first) * rng.uniform(0.1, 0.5))
        columns["first"].append(first)
        columns["last"].append(last)
        columns["activity"].append(rng.lognormvariate(0.0, 0.55))
        pools = DISCIPLINE_POOLS[spec.discipline if spec.discipline in DISCIPLINE_POOLS else ""]
        names, weights = list(pools), list(pools.values())
        p1 = rng.choices(names, weights=weights)[0]
        p2 = rng.choices(names, weights=weights)[0]
        columns["p1"].append(POOL_INDEX[p1])
        columns["p2"].append(POOL_INDEX[p2])
        columns["lf"].append(0.0 if spec.status == "suspended" else 1.0)
        has_openid[index] = _identifier(spec, "wechat_openid") is not None
    openid_record = [primary[p] if has_openid[p] else extra[WECHAT][p] for p in range(n)]
    wechat_from = [0 if has_openid[p] else NEVER for p in range(n)]
    for person, record in enumerate(extra[WECHAT]):
        if record >= 0 and not has_openid[person]:
            wechat_from[person] = max(0, (records[record].registered_on - start).days)
    windows = [_window(spec, start, days) for spec in records]
    int64 = pa.int64()
    return Population(
        persons=n,
        records=len(records),
        days=days,
        group=pa.array([GROUP_CODES.index(g) for g in groups], int64),
        activity=pa.array(columns["activity"], pa.float64()),
        first_day=pa.array(columns["first"], int64),
        last_day=pa.array(columns["last"], int64),
        home_branch=pa.array(
            [BRANCH_INDEX.get(p.home_branch, BRANCH_INDEX[campus.MAIN]) for p in people], int64
        ),
        discipline=pa.array(
            [DISCIPLINES.index(p.discipline) if p.discipline in DISCIPLINES else 0 for p in people],
            int64,
        ),
        pool1=pa.array(columns["p1"], int64),
        pool2=pa.array(columns["p2"], int64),
        loan_factor=pa.array(columns["lf"], pa.float64()),
        primary=pa.array(primary, int64),
        wechat_record=pa.array(extra[WECHAT], int64),
        community_record=pa.array(extra[COMMUNITY], int64),
        eresource_record=pa.array(extra[ERESOURCE], int64),
        wechat_from=pa.array(wechat_from, int64),
        openid_record=pa.array(openid_record, int64),
        record_person=pa.array(record_person, int64),
        record_kind=tuple(record_kind),
        record_first_day=pa.array([w[0] for w in windows], int64),
        record_last_day=pa.array([w[1] for w in windows], int64),
        record_category=pa.array([CATEGORIES.index(r.category) for r in records], int64),
        record_card=pa.array([_identifier(r, "library_card") for r in records], pa.string()),
        record_openid=pa.array([_identifier(r, "wechat_openid") for r in records], pa.string()),
        record_email=pa.array([_identifier(r, "email") for r in records], pa.string()),
        record_phone=pa.array([_identifier(r, "phone") for r in records], pa.string()),
    )


def registrations(
    people: Sequence[PatronSpec], duplicates: Sequence[Duplicate], rng: random.Random
) -> tuple[list[PatronSpec], list[int], list[str]]:
    """Every patron record in the order the library registered them (by registration date;
    shuffled within a day), with the person each belongs to and its kind."""
    rows = [(spec.registered_on, rng.random(), spec, i, PRIMARY) for i, spec in enumerate(people)]
    rows += [(d.spec.registered_on, rng.random(), d.spec, d.person, d.kind) for d in duplicates]
    rows.sort(key=lambda row: (row[0], row[1]))
    return [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows]
