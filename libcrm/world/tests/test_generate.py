"""The demo library's generator: deterministic per seed, and people who look like a real library's
(no database needed)."""

from __future__ import annotations

import ast
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from libcrm.patrons.identifiers import normalise
from libcrm.patrons.models import Discipline, HouseholdRole, PatronCategory, PatronStatus
from libcrm.staff.roles import Role
from libcrm.world import campus
from libcrm.world.generate import CAMPUS_CATEGORIES, DemoLibrary, PatronSpec, generate

TODAY = date(2026, 3, 10)


@pytest.fixture(scope="module")
def library() -> DemoLibrary:
    return generate(1500, seed=42, today=TODAY)


def _age(spec: PatronSpec) -> int:
    return TODAY.year - spec.birth_year


def _is_chinese(name: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in name)


def test_the_same_seed_gives_the_same_library() -> None:
    assert generate(300, seed=7, today=TODAY) == generate(300, seed=7, today=TODAY)


def test_another_seed_gives_other_people() -> None:
    first = [p.name for p in generate(100, seed=1, today=TODAY).patrons]
    second = [p.name for p in generate(100, seed=2, today=TODAY).patrons]
    assert first != second


@pytest.mark.parametrize("size", [0, 1, 2, 3, 17, 300])
def test_exactly_the_requested_number_of_patrons(size: int) -> None:
    assert len(generate(size, seed=size, today=TODAY).patrons) == size


def test_generator_modules_do_not_import_django() -> None:
    folder = Path(campus.__file__).parent
    for module in ("generate.py", "campus.py", "personal_names.py"):
        tree = ast.parse((folder / module).read_text(encoding="utf-8"))
        imported = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.startswith("django")], module


def test_every_category_appears_with_students_the_largest_group(library: DemoLibrary) -> None:
    counts = Counter(p.category for p in library.patrons)
    assert set(counts) == set(PatronCategory.values)
    assert counts.most_common(1)[0][0] == "undergraduate"
    assert 0.3 < counts["undergraduate"] / len(library.patrons) < 0.5


def test_names_are_realistic(library: DemoLibrary) -> None:
    names = [p.name for p in library.patrons]
    assert all(name.strip() == name and name for name in names)
    chinese = [n for n in names if _is_chinese(n)]
    english = [n for n in names if n.isascii() or " " in n]
    assert len(chinese) > 0.9 * len(names)
    assert english, "exchange students and visiting scholars have English names"
    assert all(2 <= len(n) <= 4 for n in chinese)
    surnames = Counter(n[0] for n in chinese if len(n) <= 3)
    assert {s for s, _ in surnames.most_common(5)} & {"王", "李", "张"} == {"王", "李", "张"}
    assert len(set(names)) > 0.8 * len(names)


def test_birth_years_fit_the_category(library: DemoLibrary) -> None:
    ranges = {
        "undergraduate": (16, 25),
        "postgraduate": (20, 36),
        "faculty": (26, 66),
        "staff": (21, 64),
        "resident": (18, 85),
        "child": (2, 14),
        "visitor": (17, 72),
        "alumnus": (22, 45),
    }
    for spec in library.patrons:
        low, high = ranges[spec.category]
        assert low <= _age(spec) <= high, (spec.name, spec.category, spec.birth_year)


def test_campus_people_belong_to_a_school_with_its_discipline(library: DemoLibrary) -> None:
    schools = {d.code: d for d in campus.DEPARTMENTS}
    assert {d.discipline for d in campus.DEPARTMENTS} <= set(Discipline.values)
    for spec in library.patrons:
        if spec.category in CAMPUS_CATEGORIES - {"staff"}:
            assert spec.department in schools
        if spec.category in ("resident", "child", "visitor"):
            assert spec.department == "" and spec.discipline == ""
        if spec.department:
            assert spec.discipline == schools[spec.department].discipline


def test_researchers_have_specialties_and_undergraduates_do_not(library: DemoLibrary) -> None:
    for spec in library.patrons:
        if spec.category == "faculty":
            assert spec.research_specialty
        if spec.category in ("undergraduate", "resident", "child"):
            assert spec.research_specialty == ""
        assert len(spec.research_specialty) <= 200
    specialties = {p.research_specialty for p in library.patrons if p.research_specialty}
    assert any(s.isascii() for s in specialties) and any(not s.isascii() for s in specialties)


def test_dates_and_statuses_agree(library: DemoLibrary) -> None:
    for spec in library.patrons:
        assert spec.registered_on <= TODAY
        assert spec.birth_year < spec.registered_on.year
        if spec.expires_on is not None:
            assert spec.expires_on >= spec.registered_on
        if spec.status == "expired":
            assert spec.expires_on is not None and spec.expires_on < TODAY
        if spec.status == "active" and spec.expires_on is not None:
            assert spec.expires_on >= TODAY
    statuses = Counter(p.status for p in library.patrons)
    assert set(statuses) <= set(PatronStatus.values)
    assert statuses["active"] > 0.75 * len(library.patrons)
    assert statuses["expired"] and statuses["suspended"]


def test_identifiers_are_valid_and_unique(library: DemoLibrary) -> None:
    seen: set[tuple[str, str]] = set()
    for spec in library.patrons:
        kinds = [i.kind for i in spec.identifiers]
        assert kinds.count("library_card") == 1
        if spec.category in CAMPUS_CATEGORIES:
            assert "campus_id" in kinds
        else:
            assert "campus_id" not in kinds
        if spec.category == "child":
            assert kinds == ["library_card"], "children are reached through their guardians"
        for identifier in spec.identifiers:
            normal = normalise(identifier.kind, identifier.value)
            assert (identifier.kind, normal) not in seen, identifier
            seen.add((identifier.kind, normal))
            if identifier.kind == "phone":
                assert normal.startswith("+861") and len(normal) == 14
            if identifier.kind == "wechat_openid":
                assert len(identifier.value) == 28
            if identifier.kind == "email":
                assert identifier.value.endswith(".example"), "never a real mailbox"
    kinds_used = {kind for kind, _ in seen}
    assert {"library_card", "campus_id", "phone", "email", "wechat_openid"} <= kinds_used


def test_children_live_in_households_with_a_guardian(library: DemoLibrary) -> None:
    members: dict[int, list[PatronSpec]] = {}
    for spec in library.patrons:
        if spec.household is not None:
            assert 0 <= spec.household < len(library.households)
            assert spec.household_role in HouseholdRole.values
            members.setdefault(spec.household, []).append(spec)
        if spec.category == "child":
            assert spec.household is not None and spec.household_role == "child"
    assert len(members) == len(library.households) > 0
    for family in members.values():
        adults = [m for m in family if m.household_role in ("head", "partner", "guardian")]
        children = [m for m in family if m.household_role == "child"]
        assert [m.household_role for m in family].count("head") == 1
        assert children and adults
        assert all(a.category != "child" and _age(a) >= 18 for a in adults)
        assert all(c.category == "child" for c in children)
    assert all(h.label and h.address for h in library.households)


def test_a_few_patrons_have_addresses_and_notes(library: DemoLibrary) -> None:
    with_address = sum(1 for p in library.patrons if p.address)
    with_notes = sum(1 for p in library.patrons if p.notes)
    assert 0 < with_address < 0.25 * len(library.patrons)
    assert 0 < with_notes < 0.2 * len(library.patrons)
    assert all(len(p.address) <= 300 and len(p.notes) <= 2000 for p in library.patrons)


def test_home_branches_follow_the_people(library: DemoLibrary) -> None:
    codes = {b.code for b in campus.BRANCHES}
    assert all(p.home_branch in codes for p in library.patrons)
    medical = [p for p in library.patrons if p.discipline == "medicine"]
    assert Counter(p.home_branch for p in medical).most_common(1)[0][0] == campus.MEDICAL
    children = [p for p in library.patrons if p.category == "child"]
    assert Counter(p.home_branch for p in children).most_common(1)[0][0] == campus.COMMUNITY


def test_one_staff_account_per_role(library: DemoLibrary) -> None:
    assert sorted(s.role for s in library.staff) == sorted(Role.values)
    assert len({s.username for s in library.staff}) == len(Role)
