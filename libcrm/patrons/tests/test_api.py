"""The patron registry over HTTP (/api/v1/patrons), as a machine client sees it.

Every refusal is checked for its status, its field path and for leaving the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from libcrm.api.models import Scope
from libcrm.api.tests.helpers import TokenClient, error_of, field_paths, issue_token
from libcrm.patrons import services
from libcrm.patrons.age import AGE_BAND_CODES, age_band
from libcrm.patrons.models import Branch, Department, Identifier, NameTerm, Patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import audit_append_queries

pytestmark = pytest.mark.django_db

PATRONS = "/api/v1/patrons"
LOOKUP = "/api/v1/patrons/lookup"
PHONE = "+8613800138000"


def rows() -> tuple[int, int, int, int]:
    """Everything a refused request must leave as it was."""
    return (
        Patron.objects.count(),
        Identifier.objects.count(),
        NameTerm.objects.count(),
        AuditEvent.objects.exclude(action=AuditAction.DENIED).count(),
    )


def client_with(*scopes: str) -> TokenClient:
    _token, plaintext = issue_token(*scopes, name="ils")
    return TokenClient(plaintext)


@pytest.fixture
def reader() -> TokenClient:
    return client_with(Scope.PATRONS_READ)


@pytest.fixture
def writer() -> TokenClient:
    return client_with(Scope.PATRONS_READ, Scope.PATRONS_WRITE)


@pytest.fixture
def revealer() -> TokenClient:
    return client_with(Scope.PATRONS_READ, Scope.PATRONS_REVEAL)


@pytest.fixture
def places() -> None:
    Department.objects.create(
        code="cs", name_zh="计算机学院", name_en="Computer Science", discipline="engineering"
    )
    Department.objects.create(code="law", name_zh="法学院", name_en="Law School")
    Branch.objects.create(code="main", name_zh="总馆", name_en="Main Library")
    Branch.objects.create(code="east", name_zh="东区分馆", name_en="East Branch")


NEW_PATRON: dict[str, Any] = {
    "name": "李娜",
    "category": "postgraduate",
    "gender": "female",
    "birth_year": 1999,
    "department": "cs",
    "discipline": "engineering",
    "home_branch": "main",
    "research_specialty": "知识图谱",
    "registered_on": "2025-09-01",
    "expires_on": "2028-07-01",
    "address": "北京市海淀区颐和园路5号",
    "notes": "prefers e-mail",
    "identifiers": [
        {"kind": "phone", "value": "138 0013 8000", "source": "front desk", "verified": True},
        {"kind": "email", "value": "Li.Na@PKU.edu.cn"},
    ],
}


# ---- create --------------------------------------------------------------------------------


def test_create_registers_the_patron_and_answers_201(writer: TokenClient, places: None) -> None:
    response = writer.post(PATRONS, NEW_PATRON)
    assert response.status_code == 201, response.content
    body = response.json()
    patron = Patron.objects.get(uuid=body["uuid"])
    assert patron.name == "李娜" and patron.department.code == "cs"
    assert body["department"] == {
        "code": "cs",
        "name_zh": "计算机学院",
        "name_en": "Computer Science",
        "discipline": "engineering",
    }
    assert body["home_branch"]["name_en"] == "Main Library"
    assert body["registered_on"] == "2025-09-01" and body["expires_on"] == "2028-07-01"
    assert body["age_band"] == age_band(1999, timezone.localdate())
    identifiers = {i["kind"]: i for i in body["identifiers"]}
    assert identifiers["phone"]["masked"] == "+86138••••8000"
    assert identifiers["phone"]["value"] is None and identifiers["phone"]["verified"] is True
    assert PHONE not in response.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CREATE_PATRON)
    assert event.via == "api" and event.actor_label == "token:ils" and event.patron == patron


def test_create_needs_the_write_scope(reader: TokenClient) -> None:
    before = rows()
    response = reader.post(PATRONS, NEW_PATRON)
    assert response.status_code == 403
    assert "patrons:write" in error_of(response)["message"]
    assert rows() == before


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"name": None, "category": None}, {"body.name", "body.category"}),
        ({"name": 42}, {"body.name"}),
        ({"birth_year": "nineteen"}, {"body.birth_year"}),
        ({"registered_on": "01/09/2025"}, {"body.registered_on"}),
        ({"identifiers": "138 0013 8000"}, {"body.identifiers"}),
        ({"identifiers": [{"kind": "phone"}]}, {"body.identifiers[0].value"}),
        ({"identifiers": [{"kind": "phone", "value": 13800138000}]}, {"body.identifiers[0].value"}),
        ({"name": "名" * 101}, {"body.name"}),
        ({"notes": "x" * 2001}, {"body.notes"}),
        ({"address": "x" * 301}, {"body.address"}),
        ({"research_specialty": "x" * 201}, {"body.research_specialty"}),
        (
            {"identifiers": [{"kind": "email", "value": "a@b.cn", "source": "s" * 65}]},
            {"body.identifiers[0].source"},
        ),
        ({"nickname": "Nana"}, {"body.nickname"}),
        ({"category": "wizard"}, {"body.category"}),
        ({"department": "no-such-dept"}, {"body.department"}),
        ({"birth_year": 1850}, {"body.birth_year"}),
        ({"expires_on": "2020-01-01"}, {"body.expires_on"}),
        ({"identifiers": [{"kind": "fax", "value": "010-1234"}]}, {"body.identifiers[0].kind"}),
        ({"identifiers": [{"kind": "phone", "value": "call me"}]}, {"body.identifiers[0].value"}),
        (
            {
                "identifiers": [
                    {"kind": "email", "value": "x@y.cn"},
                    {"kind": "email", "value": "X@Y.CN"},
                ]
            },
            {"body.identifiers[1].value"},
        ),
    ],
)
def test_refused_fields_are_422_with_paths_and_nothing_is_written(
    writer: TokenClient, places: None, change: dict[str, Any], paths: set[str]
) -> None:
    body = {**NEW_PATRON, **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = rows()
    response = writer.post(PATRONS, body)
    assert response.status_code == 422, response.content
    assert error_of(response)["code"] == "invalid"
    assert field_paths(response) == paths
    assert rows() == before


def test_every_service_problem_is_reported_at_once(writer: TokenClient) -> None:
    body = {
        "name": "Wang Fang",
        "category": "wizard",
        "home_branch": "nowhere",
        "identifiers": [{"kind": "phone", "value": "12"}, {"kind": "weibo_id", "value": "abc"}],
    }
    response = writer.post(PATRONS, body)
    assert response.status_code == 422
    assert field_paths(response) == {
        "body.category",
        "body.home_branch",
        "body.identifiers[0].value",
        "body.identifiers[1].value",
    }


def test_identifier_of_another_patron_is_a_409_conflict(
    writer: TokenClient, make_patron: Callable[..., Any]
) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    before = rows()
    body = {
        "name": "Wang Fang",
        "category": "faculty",
        "identifiers": [
            {"kind": "email", "value": "wang@example.org"},
            {"kind": "phone", "value": "138-0013-8000"},
        ],
    }
    response = writer.post(PATRONS, body)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "identifier_conflict"
    assert field_paths(response) == {"body.identifiers[1].value"}
    assert rows() == before


def test_a_conflict_among_other_mistakes_is_listed_in_one_422(
    writer: TokenClient, make_patron: Callable[..., Any]
) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    before = rows()
    body = {
        "name": "Wang Fang",
        "category": "wizard",
        "identifiers": [{"kind": "phone", "value": PHONE}],
    }
    response = writer.post(PATRONS, body)
    assert response.status_code == 422
    assert field_paths(response) == {"body.category", "body.identifiers[0].value"}
    assert rows() == before


# ---- read and reveal -----------------------------------------------------------------------


def test_read_masks_identifiers_and_audits_the_view(
    reader: TokenClient, make_patron: Callable[..., Any], places: None
) -> None:
    patron = make_patron(
        name="Zhang Wei",
        birth_year=2010,
        home_branch="east",
        identifiers=[{"kind": "phone", "value": PHONE}, {"kind": "library_card", "value": "C0042"}],
    )
    household = services.create_household(Actor.system("test"), "Zhang family")
    services.join_household(Actor.system("test"), patron, household, "child")

    response = reader.get(f"{PATRONS}/{patron.uuid}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Zhang Wei" and body["patron_key"] == patron.patron_key
    assert body["age_band"] == age_band(2010, timezone.localdate())
    assert body["household"] == {"uuid": str(household.uuid), "role": "child"}
    assert body["home_branch"] == {"code": "east", "name_zh": "东区分馆", "name_en": "East Branch"}
    assert all(i["value"] is None for i in body["identifiers"])
    assert PHONE not in response.content.decode()
    view = AuditEvent.objects.get(action=AuditAction.VIEW_PATRON)
    assert view.patron_id == patron.pk and view.via == "api"


def test_unknown_patron_is_404(reader: TokenClient) -> None:
    response = reader.get(f"{PATRONS}/6f1c1f7e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_reveal_needs_the_reveal_scope_and_reveals_nothing_without_it(
    reader: TokenClient, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    response = reader.get(f"{PATRONS}/{patron.uuid}", {"reveal": "true"})
    assert response.status_code == 403
    assert "patrons:reveal" in error_of(response)["message"]
    assert PHONE not in response.content.decode()
    assert not AuditEvent.objects.filter(
        action__in=[AuditAction.REVEAL_IDENTIFIER, AuditAction.VIEW_PATRON]
    ).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() == 1


def test_reveal_returns_values_and_audits_each_one(
    revealer: TokenClient, make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(
        identifiers=[
            {"kind": "phone", "value": "138 0013 8000"},
            {"kind": "email", "value": "Reader@Example.org"},
            {"kind": "national_id", "value": "11010519491231002X"},
        ]
    )
    response = revealer.get(f"{PATRONS}/{patron.uuid}", {"reveal": "true"})
    assert response.status_code == 200
    values = {i["kind"]: i["value"] for i in response.json()["identifiers"]}
    assert values == {"phone": PHONE, "email": "reader@example.org", "national_id": None}
    reveals = AuditEvent.objects.filter(action=AuditAction.REVEAL_IDENTIFIER, patron=patron)
    assert sorted(e.detail["kind"] for e in reveals) == ["email", "phone"]
    assert all(e.actor_label == "token:ils" for e in reveals)


# ---- list ----------------------------------------------------------------------------------


def test_list_filters_by_every_field(
    reader: TokenClient, make_patron: Callable[..., Any], places: None
) -> None:
    a = make_patron(
        name="An",
        category="faculty",
        department="cs",
        home_branch="main",
        registered_on=date(2024, 3, 1),
    )
    b = make_patron(
        name="Bo",
        category="faculty",
        department="law",
        home_branch="east",
        registered_on=date(2025, 3, 1),
        status="suspended",
    )
    c = make_patron(
        name="Ce",
        category="undergraduate",
        department="cs",
        home_branch="east",
        registered_on=date(2025, 9, 1),
    )

    def uuids(**params: str) -> set[str]:
        response = reader.get(PATRONS, params)
        assert response.status_code == 200, response.content
        return {p["uuid"] for p in response.json()["items"]}

    assert uuids(category="faculty") == {str(a.uuid), str(b.uuid)}
    assert uuids(status="suspended") == {str(b.uuid)}
    assert uuids(department="cs") == {str(a.uuid), str(c.uuid)}
    assert uuids(home_branch="east") == {str(b.uuid), str(c.uuid)}
    assert uuids(registered_from="2025-01-01") == {str(b.uuid), str(c.uuid)}
    assert uuids(registered_to="2025-03-01") == {str(a.uuid), str(b.uuid)}
    assert uuids(registered_from="2025-01-01", registered_to="2025-06-30") == {str(b.uuid)}
    assert uuids(department="cs", category="undergraduate") == {str(c.uuid)}
    assert uuids(department="nowhere") == set()


def test_list_q_searches_names_and_identifiers_exactly(
    reader: TokenClient, make_patron: Callable[..., Any]
) -> None:
    li = make_patron(name="李娜", identifiers=[{"kind": "phone", "value": PHONE}])
    make_patron(name="李娜娜")
    for query in ("李娜", "li na", "138-0013-8000", "+86 138 0013 8000"):
        items = reader.get(PATRONS, {"q": query}).json()["items"]
        assert [p["uuid"] for p in items] == [str(li.uuid)], query


def test_list_pages_with_limit_offset_or_page(
    reader: TokenClient, make_patron: Callable[..., Any]
) -> None:
    made = [make_patron(registered_on=date(2025, 1, day)) for day in range(1, 8)]
    newest_first = [str(p.uuid) for p in reversed(made)]

    first = reader.get(PATRONS, {"limit": 3}).json()
    assert first["count"] == 7 and first["limit"] == 3 and first["offset"] == 0
    assert [p["uuid"] for p in first["items"]] == newest_first[:3]
    by_offset = reader.get(PATRONS, {"limit": 3, "offset": 3}).json()
    by_page = reader.get(PATRONS, {"limit": 3, "page": 2}).json()
    assert by_offset == by_page
    assert [p["uuid"] for p in by_page["items"]] == newest_first[3:6]
    last = reader.get(PATRONS, {"limit": 3, "page": 3}).json()
    assert [p["uuid"] for p in last["items"]] == newest_first[6:]
    assert reader.get(PATRONS, {"limit": 3, "page": 9}).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 201}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"page": 0}, "query.page"),
        ({"page": 2, "offset": 10}, "query.page"),
        ({"category": "wizard"}, "query.category"),
        ({"status": "asleep"}, "query.status"),
        ({"registered_from": "yesterday"}, "query.registered_from"),
        ({"registered_from": "2025-02-01", "registered_to": "2025-01-01"}, "query.registered_to"),
        ({"q": "x" * 201}, "query.q"),
    ],
)
def test_list_refuses_bad_parameters_with_their_path(
    reader: TokenClient, params: dict[str, Any], path: str
) -> None:
    response = reader.get(PATRONS, params)
    assert response.status_code == 422
    assert field_paths(response) == {path}


def test_list_audits_the_search_without_its_terms(
    reader: TokenClient, make_patron: Callable[..., Any]
) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    reader.get(PATRONS, {"q": PHONE, "category": "undergraduate", "limit": 10})
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_PATRONS)
    assert event.detail == {"filters": ["category", "q"], "count": 1, "returned": 1}
    assert "138" not in str(event.detail)


def test_list_makes_the_same_few_queries_however_many_patrons(
    reader: TokenClient,
    make_patron: Callable[..., Any],
    places: None,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    household = services.create_household(Actor.system("test"), "shared")

    def add(count: int) -> None:
        for n in range(count):
            patron = make_patron(
                department="cs",
                home_branch="main",
                identifiers=[
                    {"kind": "library_card", "value": f"NQ{Patron.objects.count():04d}{n}"},
                    {"kind": "email", "value": f"p{Patron.objects.count()}-{n}@example.org"},
                ],
            )
            services.join_household(Actor.system("test"), patron, household, "other")

    add(2)
    # token, last-used stamp, count, page (with its relations), identifiers, audit record
    audit = audit_append_queries()  # the audit chain: head read (and lock on PostgreSQL), insert
    with django_assert_max_num_queries(5 + audit):
        small = reader.get(PATRONS, {"limit": 200})
    add(20)
    with django_assert_max_num_queries(4 + audit):  # 10x the patrons; last-used not stamped again
        large = reader.get(PATRONS, {"limit": 200})
    assert len(small.json()["items"]) == 2 and len(large.json()["items"]) == 22
    assert all(len(p["identifiers"]) == 2 for p in large.json()["items"])
    assert all(p["department"]["code"] == "cs" for p in large.json()["items"])


# ---- change --------------------------------------------------------------------------------


def test_patch_changes_only_what_is_sent(
    writer: TokenClient, make_patron: Callable[..., Any], places: None
) -> None:
    patron = make_patron(name="Old Name", expires_on=date(2030, 1, 1), notes="keep me")
    response = writer.patch(
        f"{PATRONS}/{patron.uuid}",
        {"name": "New Name", "department": "law", "expires_on": None},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "New Name" and body["department"]["code"] == "law"
    assert body["expires_on"] is None and body["notes"] == "keep me"
    patron.refresh_from_db()
    assert patron.name == "New Name" and patron.expires_on is None
    event = AuditEvent.objects.get(action=AuditAction.UPDATE_PATRON)
    assert event.detail == {"fields": ["department", "expires_on", "name"]}
    found = writer.get(PATRONS, {"q": "New Name"}).json()["items"]
    assert [p["uuid"] for p in found] == [str(patron.uuid)]  # the name's search terms moved too


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "x" * 101}, "body.name"),
        ({"birth_year": True}, "body.birth_year"),
        ({"status": "asleep"}, "body.status"),
        ({"registered_on": "2031-01-01"}, "body.expires_on"),
        ({"identifiers": []}, "body.identifiers"),
    ],
)
def test_refused_patch_changes_nothing(
    writer: TokenClient, make_patron: Callable[..., Any], change: dict[str, Any], path: str
) -> None:
    patron = make_patron(name="Same", expires_on=date(2030, 1, 1))
    before = rows()
    response = writer.patch(f"{PATRONS}/{patron.uuid}", change)
    assert response.status_code == 422, response.content
    assert field_paths(response) == {path}
    assert rows() == before
    patron.refresh_from_db()
    assert patron.name == "Same" and patron.registered_on != date(2031, 1, 1)


def test_patch_needs_read_as_well_as_write(make_patron: Callable[..., Any]) -> None:
    patron = make_patron(name="Same")
    response = client_with(Scope.PATRONS_WRITE).patch(f"{PATRONS}/{patron.uuid}", {"name": "X"})
    assert response.status_code == 403
    assert "patrons:read" in error_of(response)["message"]
    patron.refresh_from_db()
    assert patron.name == "Same"


def test_add_and_remove_an_identifier(writer: TokenClient, make_patron: Callable[..., Any]) -> None:
    patron = make_patron()
    url = f"{PATRONS}/{patron.uuid}/identifiers"
    response = writer.post(url, {"kind": "wechat_openid", "value": "o" * 28, "source": "wechat"})
    assert response.status_code == 201, response.content
    added = response.json()
    assert added["kind"] == "wechat_openid" and added["value"] is None and added["masked"]
    assert patron.identifiers.filter(pk=added["id"]).exists()
    assert AuditEvent.objects.filter(action=AuditAction.ADD_IDENTIFIER).count() == 1

    response = writer.delete(f"{url}/{added['id']}")
    assert response.status_code == 204 and response.content == b""
    assert not patron.identifiers.filter(pk=added["id"]).exists()
    assert AuditEvent.objects.filter(action=AuditAction.REMOVE_IDENTIFIER).count() == 1


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        ({"kind": "phone", "value": PHONE}, 409, "body.value"),
        ({"kind": "fax", "value": "010-1234"}, 422, "body.kind"),
        ({"kind": "email", "value": "not-an-address"}, 422, "body.value"),
        ({"kind": "email"}, 422, "body.value"),
        ({"kind": "email", "value": "a@b.cn", "verified": "perhaps"}, 422, "body.verified"),
        ({"kind": "other", "value": "x" * 255}, 422, "body.value"),
    ],
)
def test_refused_identifier_changes_nothing(
    writer: TokenClient,
    make_patron: Callable[..., Any],
    body: dict[str, Any],
    status: int,
    path: str,
) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    patron = make_patron()
    before = rows()
    response = writer.post(f"{PATRONS}/{patron.uuid}/identifiers", body)
    assert response.status_code == status, response.content
    assert field_paths(response) == {path}
    assert rows() == before


def test_removing_another_patrons_identifier_is_404(
    writer: TokenClient, make_patron: Callable[..., Any]
) -> None:
    owner, other = make_patron(), make_patron()
    identifier = owner.identifiers.get()
    response = writer.delete(f"{PATRONS}/{other.uuid}/identifiers/{identifier.pk}")
    assert response.status_code == 404
    assert Identifier.objects.filter(pk=identifier.pk).exists()


# ---- lookup --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "written"),
    [
        ("phone", "138-0013-8000"),
        ("phone", "+86 138 0013 8000"),
        ("phone", "0086 13800138000"),
        ("email", "  LI.NA@pku.EDU.cn "),
        ("library_card", "c0042"),
        ("national_id", "11010519491231002x"),
    ],
)
def test_lookup_finds_the_patron_however_the_identifier_is_written(
    reader: TokenClient, make_patron: Callable[..., Any], kind: str, written: str
) -> None:
    patron = make_patron(
        identifiers=[
            {"kind": "phone", "value": PHONE},
            {"kind": "email", "value": "li.na@pku.edu.cn"},
            {"kind": "library_card", "value": "C0042"},
            {"kind": "national_id", "value": "11010519491231002X"},
        ]
    )
    make_patron()
    response = reader.post(LOOKUP, {"kind": kind, "value": written})
    assert response.status_code == 200, response.content
    assert response.json()["uuid"] == str(patron.uuid)
    assert all(i["value"] is None for i in response.json()["identifiers"])
    assert AuditEvent.objects.get(action=AuditAction.VIEW_PATRON).patron_id == patron.pk


def test_lookup_of_nobody_is_404(reader: TokenClient, make_patron: Callable[..., Any]) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    response = reader.post(LOOKUP, {"kind": "phone", "value": "13900000000"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW_PATRON).exists()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"kind": "fax", "value": "010-1234"}, "body.kind"),
        ({"kind": "phone", "value": "call me"}, "body.value"),
        ({"kind": "phone"}, "body.value"),
        ({"value": PHONE}, "body.kind"),
        ({"kind": "phone", "value": ["13800138000"]}, "body.value"),
    ],
)
def test_lookup_refuses_malformed_requests(
    reader: TokenClient, body: dict[str, Any], path: str
) -> None:
    response = reader.post(LOOKUP, body)
    assert response.status_code == 422
    assert field_paths(response) == {path}


def test_lookup_needs_the_read_scope(make_patron: Callable[..., Any]) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": PHONE}])
    response = client_with(Scope.PATRONS_WRITE).post(LOOKUP, {"kind": "phone", "value": PHONE})
    assert response.status_code == 403
    assert PHONE not in response.content.decode()


# ---- age bands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [
        (None, None),
        (2026, "0-13"),
        (2013, "0-13"),
        (2012, "14-17"),
        (2008, "18-24"),
        (2001, "25-34"),
        (1991, "35-44"),
        (1981, "45-59"),
        (1966, "60+"),
        (1925, "60+"),
        (2027, None),
    ],
)
def test_age_band_is_computed_from_the_birth_year(birth_year: int | None, band: str | None) -> None:
    assert age_band(birth_year, date(2026, 6, 1)) == band
    assert band is None or band in AGE_BAND_CODES
