"""The patron registry's services: validation, all-or-nothing writes, audit, lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libcrm.patrons import services
from libcrm.patrons.errors import PatronError
from libcrm.patrons.models import Branch, Department, Identifier, NameTerm, Patron
from libcrm.patrons.selectors import (
    PatronFilters,
    find_patron_by_identifier,
    household_members,
    search_patrons,
)
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def problems(exc: PatronError) -> dict[str, str]:
    return {p.path: p.message for p in exc.problems}


def counts() -> tuple[int, int, int, int]:
    return (
        Patron.objects.count(),
        Identifier.objects.count(),
        NameTerm.objects.count(),
        AuditEvent.objects.count(),
    )


def test_register_stores_patron_identifiers_and_an_audit_record(actor: Actor) -> None:
    Department.objects.create(
        code="cs", name_zh="计算机学院", name_en="Computer Science", discipline="engineering"
    )
    Branch.objects.create(code="main", name_zh="总馆", name_en="Main Library")
    patron = services.register_patron(
        actor,
        {
            "name": "李娜",
            "category": "postgraduate",
            "birth_year": 1999,
            "gender": "female",
            "department": "cs",
            "discipline": "engineering",
            "home_branch": "main",
            "research_specialty": "知识图谱",
            "address": "北京市海淀区颐和园路5号",
        },
        [
            {"kind": "phone", "value": "139 1234 5678", "source": "front desk", "verified": True},
            {"kind": "email", "value": "Li.Na@PKU.edu.cn"},
        ],
    )
    patron.refresh_from_db()
    assert patron.name == "李娜" and patron.department.code == "cs"
    assert patron.patron_key.startswith("pk")
    assert {i.kind: i.value for i in patron.identifiers.all()} == {
        "phone": "+8613912345678",
        "email": "li.na@pku.edu.cn",
    }
    event = AuditEvent.objects.get(action=AuditAction.CREATE_PATRON)
    assert event.patron == patron and event.actor_label == "test-librarian"
    assert "李娜" not in str(event.detail) and "1391234" not in str(event.detail)


def test_patron_key_is_stable_and_unique(make_patron: Callable[..., Any]) -> None:
    a, b = make_patron(), make_patron()
    assert a.patron_key != b.patron_key
    a.refresh_from_db()
    assert a.patron_key == Patron.objects.get(pk=a.pk).patron_key


def test_every_problem_is_reported_at_once_and_nothing_is_written(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC000001"}])
    before = counts()
    with pytest.raises(PatronError) as caught:
        services.register_patron(
            actor,
            {
                "name": " ",
                "category": "wizard",
                "birth_year": 1850,
                "registered_on": "2024-09-01",
                "expires_on": "2024-01-01",
                "department": "nowhere",
                "favourite_colour": "blue",
                "notes": "x" * 2001,
            },
            [
                {"kind": "library_card", "value": "lc000001"},
                {"kind": "phone", "value": "not a phone"},
                {"kind": "qq", "value": "12345"},
                {"kind": "email"},
            ],
        )
    found = problems(caught.value)
    assert found["name"] == "must not be empty"
    assert "must be one of" in found["category"]
    assert "between 1900" in found["birth_year"]
    assert found["expires_on"] == "must not be before the registration date"
    assert "no department has the code nowhere" in found["department"]
    assert found["favourite_colour"] == "is not a patron field"
    assert "at most 2000" in found["notes"]
    assert "already belongs" in found["identifiers[0].value"]
    assert "only digits" in found["identifiers[1].value"]
    assert "unknown identifier kind" in found["identifiers[2].kind"]
    assert found["identifiers[3].value"] == "is required"
    assert counts() == before


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"name": 42}, "name", "must be text"),
        ({"birth_year": "nineteen"}, "birth_year", "whole number"),
        ({"birth_year": True}, "birth_year", "whole number"),
        ({"registered_on": "2024-13-40"}, "registered_on", "YYYY-MM-DD"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": "bad\x07name"}, "name", "control characters"),
    ],
)
def test_wrong_types_and_sizes_are_refused(
    actor: Actor, fields: dict[str, Any], path: str, message: str
) -> None:
    payload = {"name": "王芳", "category": "resident", **fields}
    with pytest.raises(PatronError) as caught:
        services.register_patron(actor, payload)
    assert message in problems(caught.value)[path]
    assert Patron.objects.count() == 0


def test_the_same_identifier_twice_in_one_request_is_refused(actor: Actor) -> None:
    with pytest.raises(PatronError) as caught:
        services.register_patron(
            actor,
            {"name": "王芳", "category": "resident"},
            [
                {"kind": "phone", "value": "13800138000"},
                {"kind": "phone", "value": "+86 138 0013 8000"},
            ],
        )
    assert problems(caught.value)["identifiers[1].value"] == "is listed twice"


def test_update_audits_changed_field_names_only(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(name="Alice Smith", category="faculty")
    services.update_patron(
        actor, patron, {"name": "Alice Brown", "status": "suspended", "category": "faculty"}
    )
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE_PATRON).get()
    assert event.detail == {"fields": ["name", "status"]}
    assert list(search_patrons(PatronFilters(query="brown"))) == [patron]
    assert list(search_patrons(PatronFilters(query="smith"))) == []


def test_update_checks_dates_against_the_stored_record(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(registered_on="2024-09-01")
    with pytest.raises(PatronError) as caught:
        services.update_patron(actor, patron, {"expires_on": "2024-08-31"})
    assert "expires_on" in problems(caught.value)
    patron.refresh_from_db()
    assert patron.expires_on is None


def test_update_without_changes_writes_nothing(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(name="Bob")
    before = AuditEvent.objects.count()
    services.update_patron(actor, patron, {"name": "Bob"})
    assert AuditEvent.objects.count() == before


def test_lookup_by_any_identifier_in_any_written_form(make_patron: Callable[..., Any]) -> None:
    patron = make_patron(
        identifiers=[
            {"kind": "phone", "value": "13800138000"},
            {"kind": "email", "value": "reader@example.org"},
            {"kind": "wechat_openid", "value": "oABCD1234efgh5678ijkl9012mno"},
        ]
    )
    assert find_patron_by_identifier("phone", "+86 138-0013-8000") == patron
    assert find_patron_by_identifier("email", "READER@example.org") == patron
    assert find_patron_by_identifier("wechat_openid", "oABCD1234efgh5678ijkl9012mno") == patron
    assert find_patron_by_identifier("phone", "13900000000") is None


def test_national_id_is_kept_only_as_a_hash_yet_still_matches(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(identifiers=[{"kind": "national_id", "value": "11010519491231002X"}])
    identifier = patron.identifiers.get()
    assert identifier.value is None
    assert find_patron_by_identifier("national_id", "11010519491231002x") == patron
    with pytest.raises(PatronError, match="keyed hash"):
        services.reveal_identifier(actor, identifier)


def test_reveal_returns_the_value_and_is_audited(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(identifiers=[{"kind": "email", "value": "reader@example.org"}])
    identifier = patron.identifiers.get()
    assert services.reveal_identifier(actor, identifier) == "reader@example.org"
    event = AuditEvent.objects.get(action=AuditAction.REVEAL_IDENTIFIER)
    assert event.patron == patron and event.detail == {"kind": "email"}


def test_add_and_remove_identifier(actor: Actor, make_patron: Callable[..., Any]) -> None:
    patron = make_patron()
    other = make_patron(identifiers=[{"kind": "phone", "value": "13800138000"}])
    identifier = services.add_identifier(actor, patron, {"kind": "weibo_id", "value": "1234567"})
    assert find_patron_by_identifier("weibo_id", "1234567") == patron
    with pytest.raises(PatronError) as caught:
        services.add_identifier(actor, patron, {"kind": "phone", "value": "13800138000"})
    assert "already belongs" in problems(caught.value)["value"]
    assert other.identifiers.count() == 1
    services.remove_identifier(actor, identifier)
    assert find_patron_by_identifier("weibo_id", "1234567") is None
    assert AuditEvent.objects.filter(action=AuditAction.REMOVE_IDENTIFIER, patron=patron).exists()


def test_households_join_and_leave(actor: Actor, make_patron: Callable[..., Any]) -> None:
    parent, child = make_patron(category="resident"), make_patron(category="child")
    household = services.create_household(actor, "王家", "上海市徐汇区")
    services.join_household(actor, parent, household, "guardian")
    services.join_household(actor, child, household, "child")
    assert household_members(household) == [child, parent]
    with pytest.raises(PatronError, match="must be one of"):
        services.join_household(actor, parent, household, "butler")
    services.leave_household(actor, child)
    child.refresh_from_db()
    assert child.household is None and child.household_role == ""
    with pytest.raises(PatronError, match="not in a household"):
        services.leave_household(actor, child)


def test_search_combines_text_and_filters(make_patron: Callable[..., Any]) -> None:
    a = make_patron(name="张伟", category="undergraduate")
    b = make_patron(name="章伟", category="faculty")
    make_patron(name="刘洋", category="undergraduate")
    assert set(search_patrons(PatronFilters(query="Zhang Wei"))) == {a, b}
    assert list(search_patrons(PatronFilters(query="张伟"))) == [a]
    assert list(search_patrons(PatronFilters(query="zhang wei", category="faculty"))) == [b]
    assert list(search_patrons(PatronFilters(query="nobody at all"))) == []


def test_bulk_registration_applies_every_rule_and_audits_each_patron(actor: Actor) -> None:
    household = services.create_household(actor, "李家")
    patrons = services.register_patrons_bulk(
        actor,
        [
            services.PatronEntry(
                {"name": "李雷", "category": "resident"},
                [{"kind": "phone", "value": "13700000001"}],
                household=household,
                household_role="head",
            ),
            services.PatronEntry(
                {"name": "韩梅梅", "category": "undergraduate"},
                [{"kind": "library_card", "value": "LC0099"}],
            ),
        ],
    )
    assert [p.name for p in patrons] == ["李雷", "韩梅梅"]
    assert find_patron_by_identifier("phone", "137 0000 0001") == patrons[0]
    assert list(search_patrons(PatronFilters(query="han mei mei"))) == [patrons[1]]
    assert household_members(household) == [patrons[0]]
    assert AuditEvent.objects.filter(action=AuditAction.CREATE_PATRON).count() == 2
    assert AuditEvent.objects.filter(
        action=AuditAction.CHANGE_HOUSEHOLD, patron=patrons[0]
    ).exists()


def test_bulk_registration_is_all_or_nothing_with_indexed_paths(
    actor: Actor, make_patron: Callable[..., Any]
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    before = counts()
    with pytest.raises(PatronError) as caught:
        services.register_patrons_bulk(
            actor,
            [
                services.PatronEntry(
                    {"name": "甲", "category": "resident"},
                    [{"kind": "phone", "value": "13700000002"}],
                ),
                services.PatronEntry(
                    {"name": "", "category": "resident"},
                    [{"kind": "library_card", "value": "lc0001"}],
                ),
                services.PatronEntry(
                    {"name": "丙", "category": "resident"},
                    [{"kind": "phone", "value": "+86 137 0000 0002"}],
                ),
            ],
        )
    found = problems(caught.value)
    assert found["[1].name"] == "must not be empty"
    assert "already belongs" in found["[1].identifiers[0].value"]
    assert "[0].identifiers[0]" in found["[2].identifiers[0].value"]
    assert counts() == before
