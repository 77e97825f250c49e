"""The synthetic library world behind ``libcrm demo``: people, their duplicate registrations,
the collection and a year of behaviour, all from one seed.

:func:`build_people` is quick (the registry needs it first); :func:`build_behaviour` draws
the events column-wise and can run while the people are being registered. The same
:class:`WorldConfig` always gives the same world. Pure: no Django.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import Style, lazy_pinyin

from libcrm.world.activity import DAY, col, draw_sessions, draw_visits
from libcrm.world.catalogue import Catalogue, build_catalogue, catalogue_size
from libcrm.world.circulation import draw_loans, held_out, reminders
from libcrm.world.duplicates import (
    DESK_CATEGORIES,
    Duplicate,
    FreshIdentifiers,
    duplicate_counts,
    second_registrations,
)
from libcrm.world.eresources import draw_ezproxy
from libcrm.world.generate import DemoLibrary, IdentifierSpec, PatronSpec, generate
from libcrm.world.groups import assign_groups
from libcrm.world.name_variants import is_chinese, split_chinese
from libcrm.world.online import draw_online, loan_side_events, sources_of
from libcrm.world.personal_names import chinese_name
from libcrm.world.population import Population, build_population, registrations
from libcrm.world.programmes import Programme, draw_programmes, schedule
from libcrm.world.rng import python_random
from libcrm.world.seasons import CalendarDay, academic_calendar

DEFAULT_PATRONS = 5000
DEFAULT_DAYS = 365
DEFAULT_DUPLICATE_SHARE = 0.07
TIME_ZONE = "Asia/Shanghai"  # the demo library's clock; every file is written in it


@dataclass(frozen=True)
class WorldConfig:
    """The knobs of a world. ``patrons`` counts patron records (people plus their duplicate
    registrations); ``end`` (local time) cuts off the last day, so that a world ending today
    holds nothing later than now."""

    until: date
    patrons: int = DEFAULT_PATRONS
    days: int = DEFAULT_DAYS
    seed: int = 42
    duplicate_share: float = DEFAULT_DUPLICATE_SHARE
    holdout_loans: int = 2
    holdout_min_loans: int = 5
    catalogue_items: int | None = None
    bad_lines: bool = True
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.patrons < 0:
            raise ValueError("patrons must not be negative")
        if not 0 <= self.days <= 3660:
            raise ValueError("days must be between 0 and 3,660")
        if not 0 <= self.duplicate_share <= 0.5:
            raise ValueError("duplicate_share must be between 0 and 0.5")

    @property
    def first_day(self) -> date:
        return self.until - timedelta(days=max(self.days, 1) - 1)

    @property
    def end_seconds(self) -> int:
        """Seconds from the first day's midnight to the end of the world (exclusive)."""
        full = self.days * DAY
        if self.end is None:
            return full
        start = datetime.combine(self.first_day, datetime.min.time())
        return max(0, min(full, int((self.end.replace(tzinfo=None) - start).total_seconds())))


@dataclass
class People:
    """Everyone in the world and every patron record the registry will hold."""

    config: WorldConfig
    library: DemoLibrary  # the people (one registration each), households and staff
    groups: list[str]
    duplicates: list[Duplicate]
    records: list[PatronSpec]  # in registration order
    record_person: list[int]
    record_kind: list[str]

    def registry(self) -> DemoLibrary:
        """What :func:`libcrm.world.load.load_demo` registers: every record."""
        lib = self.library
        return DemoLibrary(
            lib.seed, lib.today, lib.branches, lib.departments, lib.households,
            self.records, lib.staff,
        )  # fmt: skip


@dataclass
class Behaviour:
    """A year of behaviour, as tables the source files are written from."""

    calendar: list[CalendarDay]
    population: Population
    catalogue: Catalogue
    programmes: list[Programme]
    visits: pa.Table
    loans: pa.Table
    held_out: pa.Array
    ezproxy: pa.Table
    events: pa.Table  # NDJSON rows (online.EVENT_COLUMNS plus "source")
    timings: dict[str, float] = field(default_factory=dict)


def build_people(config: WorldConfig) -> People:
    people_count, with_duplicate, with_two = duplicate_counts(
        config.patrons, config.duplicate_share
    )
    library = generate(people_count, config.seed, config.until)
    _distinct_family_names(library.patrons, python_random(config.seed, "family_names"))
    groups = assign_groups(library.patrons, python_random(config.seed, "groups"))
    _follow_on_wechat(library.patrons, groups, python_random(config.seed, "openids"))
    _desk_national_ids(library.patrons, python_random(config.seed, "national_ids"))
    duplicates = second_registrations(
        library.patrons,
        with_duplicate,
        with_two,
        python_random(config.seed, "duplicates"),
        config.until,
    )
    records, record_person, record_kind = registrations(
        library.patrons, duplicates, python_random(config.seed, "registrations")
    )
    return People(config, library, groups, duplicates, records, record_person, record_kind)


def _follow_on_wechat(people: list[PatronSpec], groups: list[str], rng: random.Random) -> None:
    """WeChat-first people all follow the library's official account: give an openid to those
    the registration form did not record one for."""
    fresh = FreshIdentifiers(people, rng)
    for person, group in zip(people, groups, strict=True):
        if group == "wechat_native" and not any(
            i.kind == "wechat_openid" for i in person.identifiers
        ):
            person.identifiers.append(
                IdentifierSpec("wechat_openid", fresh.openid(), "wechat", verified=True)
            )


def _distinct_family_names(people: list[PatronSpec], rng: random.Random) -> None:
    """No child shares the sound of a household member's name: parents do not call a child
    what they or a sibling are called, nor 睿然 beside 瑞然 (the generator draws each member's
    given name on its own, which now and then did). Such a child gets another given name."""
    households: dict[int, list[PatronSpec]] = {}
    for person in people:
        if person.household is not None:
            households.setdefault(person.household, []).append(person)
    for members in households.values():
        heard: set[str] = set()
        for person in sorted(members, key=lambda p: p.household_role == "child"):
            sound = "".join(lazy_pinyin(person.name, style=Style.NORMAL))
            if sound in heard and person.household_role == "child" and is_chinese(person.name):
                family, _ = split_chinese(person.name)
                while sound in heard:
                    name = chinese_name(rng, person.gender, person.birth_year, surname=family)
                    person.name = name.full
                    sound = "".join(lazy_pinyin(person.name, style=Style.NORMAL))
            heard.add(sound)


def _desk_national_ids(people: list[PatronSpec], rng: random.Random) -> None:
    """Residents and visitors are registered at the lending desk against their 身份证
    (real-name registration): their record holds its number (a keyed digest in the registry).
    Foreign visitors show a passport, which the registry does not keep."""
    fresh = FreshIdentifiers(people, rng)
    for person in people:
        if person.category in DESK_CATEGORIES and is_chinese(person.name):
            number = fresh.national_id(person.birth_year, person.gender)
            person.identifiers.append(
                IdentifierSpec("national_id", number, "desk-registration", verified=True)
            )


def build_behaviour(people: People) -> Behaviour:
    config = people.config
    seed, end = config.seed, config.end_seconds
    calendar = academic_calendar(config.first_day, config.until) if config.days else []
    population = build_population(
        people.library.patrons,
        people.groups,
        people.records,
        people.record_person,
        people.record_kind,
        config.first_day,
        config.days,
        python_random(seed, "population"),
    )
    size = config.catalogue_items or catalogue_size(config.patrons)
    catalogue = build_catalogue(size, python_random(seed, "catalogue"), config.until.year)
    sessions = draw_sessions(population, calendar, seed)
    sessions = sessions.filter(pc.less(col(sessions, "t"), end))
    visits = draw_visits(sessions, population, calendar, seed)
    loans = draw_loans(visits, population, catalogue, seed, end)
    kept_out = held_out(loans, config.holdout_loans, config.holdout_min_loans)
    notices = reminders(loans, population, seed, end)
    ezproxy = draw_ezproxy(sessions, population, seed, end)
    scale = len(people.library.patrons) / DEFAULT_PATRONS
    programmes = schedule(calendar, scale, python_random(seed, "programmes"))
    programme_rows = draw_programmes(programmes, population, python_random(seed, "attendance"))
    online = pa.concat_tables(
        [
            draw_online(sessions, population, catalogue, seed),
            loan_side_events(loans, notices, catalogue, kept_out),
        ]
    )
    online = online.filter(pc.less(col(online, "t"), end))
    programme_rows = programme_rows.filter(pc.less(col(programme_rows, "t"), end))
    events = pa.concat_tables(
        [
            online.append_column("source", sources_of(online)),
            programme_rows.append_column(
                "source", pa.array(["programmes"] * programme_rows.num_rows, pa.string())
            ),
        ]
    )
    return Behaviour(
        calendar, population, catalogue, programmes, visits, loans, kept_out, ezproxy, events
    )
