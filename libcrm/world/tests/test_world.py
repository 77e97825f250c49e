"""The synthetic world's behaviour: deterministic per seed, and shaped like a real library's year
(night use of the 24-hour library, exam peaks, holiday dips, loans and their returns, the
duplicate registrations identity linkage has to find). No database needed."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pypinyin import Style, lazy_pinyin

from libcrm.events.schema import CHANNELS, EVENT_TYPES
from libcrm.patrons.identifiers import normalise
from libcrm.world.activity import DAY, col
from libcrm.world.groups import GROUP_CODES
from libcrm.world.name_variants import is_chinese, split_chinese
from libcrm.world.population import BRANCH_CODES
from libcrm.world.seasons import Phase
from libcrm.world.world import Behaviour, People, WorldConfig, build_behaviour, build_people

# A year that holds both exam seasons (January and June) and a Spring Festival.
CONFIG = WorldConfig(until=date(2026, 6, 30), patrons=1500, days=365, seed=7)
SELF_SERVICE = BRANCH_CODES.index("24h")
COMMUNITY = BRANCH_CODES.index("community")
CAMPUS = pa.array([BRANCH_CODES.index(b) for b in ("main", "sci", "med")], pa.int64())


@pytest.fixture(scope="module")
def people() -> People:
    return build_people(CONFIG)


@pytest.fixture(scope="module")
def behaviour(people: People) -> Behaviour:
    return build_behaviour(people)


def _visits_per_day(behaviour: Behaviour, where: pa.Array | None = None) -> Counter[int]:
    days = col(behaviour.visits, "day")
    if where is not None:
        days = pc.filter(days, where)
    return Counter(days.to_pylist())


def _mean(counts: Counter[int], behaviour: Behaviour, wanted: object) -> float:
    days = [i for i, day in enumerate(behaviour.calendar) if wanted(day)]  # type: ignore[operator]
    assert days, "the calendar has such days"
    return sum(counts.get(i, 0) for i in days) / len(days)


def _term_weekday(day: object) -> bool:
    return day.phase == Phase.TERM and day.weekday < 5 and not day.holiday  # type: ignore[attr-defined]


def test_the_same_seed_gives_the_same_world() -> None:
    config = WorldConfig(until=date(2025, 12, 31), patrons=300, days=60, seed=11)
    first, second = build_behaviour(build_people(config)), build_behaviour(build_people(config))
    for name in ("visits", "loans", "ezproxy", "events"):
        assert getattr(first, name).equals(getattr(second, name)), name
    assert first.held_out.equals(second.held_out)
    other = build_behaviour(build_people(WorldConfig(until=date(2025, 12, 31), patrons=300,
                                                     days=60, seed=12)))  # fmt: skip
    assert not other.visits.equals(first.visits)


def test_patron_records_are_people_plus_their_duplicates(people: People) -> None:
    assert len(people.records) == CONFIG.patrons
    persons = len(people.library.patrons)
    with_duplicate = {d.person for d in people.duplicates}
    assert 0.05 <= len(with_duplicate) / persons <= 0.10
    per_person = Counter(people.record_person)
    assert max(per_person.values()) <= 3 and min(per_person.values()) == 1
    assert Counter(people.record_kind)["primary"] == persons
    assert {d.kind for d in people.duplicates} == {"wechat", "community", "eresource"}


def test_duplicates_differ_the_way_second_registrations_do(people: People) -> None:
    persons = people.library.patrons
    changes = Counter(d.name_change for d in people.duplicates)
    assert changes["typo"] and changes["pinyin"] and changes["same"]
    for duplicate in people.duplicates:
        original = persons[duplicate.person].name
        if duplicate.name_change == "typo" and is_chinese(original):
            assert duplicate.spec.name != original and len(duplicate.spec.name) == len(original)
            toneless = lazy_pinyin(duplicate.spec.name, style=Style.NORMAL)
            assert toneless == lazy_pinyin(original, style=Style.NORMAL), "a homophone slip"
        if duplicate.name_change == "pinyin":
            family, _ = split_chinese(original)
            assert duplicate.spec.name.isascii()
            assert lazy_pinyin(family)[0] in duplicate.spec.name.lower()
    births = Counter(d.birth_year_change for d in people.duplicates)
    assert births["missing"] and births["off_by_one"]
    for duplicate in people.duplicates:
        if duplicate.birth_year_change == "off_by_one":
            assert abs(duplicate.spec.birth_year - persons[duplicate.person].birth_year) == 1


def test_every_identifier_is_valid_and_belongs_to_one_record(people: People) -> None:
    seen: set[tuple[str, str]] = set()
    for record in people.records:
        kinds = [i.kind for i in record.identifiers]
        assert kinds.count("library_card") == 1
        for identifier in record.identifiers:
            key = (identifier.kind, normalise(identifier.kind, identifier.value))
            assert key not in seen, identifier
            seen.add(key)
    assert {"library_card", "campus_id", "phone", "email", "wechat_openid", "national_id"} <= {
        k for k, _ in seen
    }


def test_national_ids_follow_real_name_registration(people: People) -> None:
    """Desk registrations (residents, Chinese visitors) and community cards carry a 身份证;
    campus records do not, so only campus people can have a community card of their own."""
    persons = people.library.patrons
    for person in persons:
        holds = any(i.kind == "national_id" for i in person.identifiers)
        expected = person.category in ("resident", "visitor") and is_chinese(person.name)
        assert holds == expected, (person.category, person.name)
        if person.category in ("undergraduate", "faculty"):
            assert not holds
    community = [d for d in people.duplicates if d.kind == "community"]
    assert community
    for duplicate in community:
        assert any(i.kind == "national_id" for i in duplicate.spec.identifiers)
        person = persons[duplicate.person]
        assert not any(i.kind == "national_id" for i in person.identifiers)
        # birth year and gender are read from the 身份证 number, not typed
        assert (duplicate.spec.birth_year, duplicate.spec.gender) == (
            person.birth_year,
            person.gender,
        )


def test_every_group_is_present_and_families_read_together(people: People) -> None:
    counts = Counter(people.groups)
    assert set(counts) == set(GROUP_CODES)
    for person, group in zip(people.library.patrons, people.groups, strict=True):
        if person.category == "child":
            assert group == "family_reader"
    assert all(
        any(i.kind == "wechat_openid" for i in p.identifiers)
        for p, g in zip(people.library.patrons, people.groups, strict=True)
        if g == "wechat_native"
    )


def test_the_night_belongs_to_the_24_hour_library(behaviour: Behaviour) -> None:
    visits = behaviour.visits
    hour = pc.divide(pc.subtract(col(visits, "t_in"), pc.multiply(col(visits, "day"), DAY)), 3600)
    night = pc.or_(pc.greater_equal(hour, 23), pc.less(hour, 7))
    at_self_service = pc.equal(col(visits, "branch"), SELF_SERVICE)
    night_visits = pc.sum(night).as_py()
    assert night_visits > 0.05 * visits.num_rows
    assert pc.sum(pc.and_(night, at_self_service)).as_py() == night_visits, "others are shut"
    late = pc.or_(pc.greater_equal(hour, 21), pc.less(hour, 7))
    share = pc.sum(pc.and_(late, at_self_service)).as_py() / pc.sum(at_self_service).as_py()
    assert share > 0.3
    stay = pc.subtract(col(visits, "t_out"), col(visits, "t_in"))
    assert pc.min(stay).as_py() >= 60 and pc.max(stay).as_py() <= 8 * 3600


def test_exam_weeks_peak_and_holidays_empty_the_campus(behaviour: Behaviour) -> None:
    campus = _visits_per_day(behaviour, pc.is_in(col(behaviour.visits, "branch"), CAMPUS))
    term = _mean(campus, behaviour, _term_weekday)
    exam = _mean(
        campus, behaviour, lambda d: d.phase == Phase.EXAM and d.weekday < 5 and not d.holiday
    )
    assert exam > 1.3 * term
    for holiday in ("国庆节", "春节"):
        assert _mean(campus, behaviour, lambda d, h=holiday: d.holiday == h) < 0.7 * term
    assert _mean(campus, behaviour, lambda d: d.phase == Phase.WINTER) < 0.7 * term
    community = _visits_per_day(behaviour, pc.equal(col(behaviour.visits, "branch"), COMMUNITY))
    ordinary = _mean(community, behaviour, _term_weekday)
    assert _mean(community, behaviour, lambda d: bool(d.holiday)) > 1.5 * ordinary
    assert _mean(community, behaviour, lambda d: d.weekday >= 5) > 2 * ordinary


def test_crammers_come_for_the_exams(people: People, behaviour: Behaviour) -> None:
    crammers = pa.array([i for i, g in enumerate(people.groups) if g == "exam_crammer"], pa.int64())
    theirs = _visits_per_day(behaviour, pc.is_in(col(behaviour.visits, "person"), crammers))
    exam = _mean(theirs, behaviour, lambda d: d.phase == Phase.EXAM and d.weekday < 5)
    assert exam > 3 * _mean(theirs, behaviour, _term_weekday)


def test_loans_come_back_renewed_late_or_not_yet(behaviour: Behaviour) -> None:
    loans = behaviour.loans
    returned = col(loans, "t_return")
    renewed = col(loans, "t_renewal")
    assert loans.num_rows >= len(returned) - returned.null_count > 0.7 * loans.num_rows
    assert 0.05 * loans.num_rows < len(renewed) - renewed.null_count < 0.5 * loans.num_rows
    back = pc.filter(pc.subtract(returned, col(loans, "t")), returned.is_valid())
    assert pc.min(back).as_py() > 0
    late = pc.greater(pc.fill_null(returned, 10**12), col(loans, "t_due"))
    assert 0.02 < pc.mean(pc.cast(late, pa.float64())).as_py() < 0.35
    assert pc.all(pc.less(col(loans, "t"), CONFIG.end_seconds)).as_py()
    share = pc.sum(behaviour.held_out).as_py() / loans.num_rows
    assert 0.01 < share < 0.25


def test_events_use_only_the_schemas_types_and_channels(behaviour: Behaviour) -> None:
    events = behaviour.events
    assert set(pc.unique(col(events, "type")).to_pylist()) <= EVENT_TYPES
    assert set(pc.unique(col(events, "channel")).to_pylist()) <= CHANNELS
    kinds = Counter(col(events, "type").to_pylist())
    for wanted in ("web_visit", "app_visit", "social_interaction", "message_in", "hold",
                   "space_booking", "space_checkin", "consultation", "program_attendance",
                   "reading_session", "feedback"):  # fmt: skip
        assert kinds[wanted] > 0, wanted
    assert pc.all(pc.less(col(events, "t"), CONFIG.end_seconds)).as_py()
    assert pc.all(pc.greater_equal(col(events, "t"), 0)).as_py()


def test_no_record_is_used_before_it_was_registered(behaviour: Behaviour) -> None:
    first_day = behaviour.population.record_first_day
    for table, time in ((behaviour.visits, "t_in"), (behaviour.loans, "t"),
                        (behaviour.ezproxy, "t"), (behaviour.events, "t")):  # fmt: skip
        day = pc.divide(col(table, time), DAY)
        registered = pc.take(first_day, col(table, "record"))
        assert pc.all(pc.greater_equal(day, registered)).as_py()


def test_a_default_sized_world_holds_about_a_million_events() -> None:
    config = WorldConfig(until=date(2026, 6, 30), seed=3)
    behaviour = build_behaviour(build_people(config))
    loans = behaviour.loans.filter(pc.invert(behaviour.held_out))
    gate = 2 * behaviour.visits.num_rows
    koha = loans.num_rows + sum(
        len(c) - c.null_count for c in (col(loans, "t_return"), col(loans, "t_renewal"))
    )
    ezproxy = pc.sum(pc.is_in(col(behaviour.ezproxy, "kind"), pa.array([0, 1, 2]))).as_py()
    total = gate + koha + ezproxy + behaviour.events.num_rows
    assert 800_000 < total < 1_400_000


def test_no_child_is_named_like_a_household_member(people: People) -> None:
    households: dict[int, list[str]] = {}
    for person in people.library.patrons:
        if person.household is not None:
            sound = "".join(lazy_pinyin(person.name, style=Style.NORMAL))
            households.setdefault(person.household, []).append(sound)
    assert households
    for sounds in households.values():
        assert len(set(sounds)) == len(sounds), sounds
