"""The patron pages of the console: search, the patron page, reveal, identifiers, households,
registration and edits — as a librarian uses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libcrm.patrons.models import Branch, Department, Household, Identifier, Patron
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.testing import sign_in_fully

CARD, CAMPUS, PHONE, EMAIL = "L2024001", "S20240001", "13800138000", "zhang.wei@example.edu.cn"
FULL_PHONE = "+8613800138000"


@pytest.fixture
def places(db: Any) -> None:
    Department.objects.create(code="law", name_zh="法学院", name_en="School of Law")
    Department.objects.create(code="phys", name_zh="物理学院", name_en="School of Physics")
    Branch.objects.create(code="main", name_zh="总馆", name_en="Main Library")
    Branch.objects.create(code="east", name_zh="东区分馆", name_en="East Campus Library")


@pytest.fixture
def zhang(make_patron: Callable[..., Any], places: None) -> Patron:
    return make_patron(
        name="张伟",
        category="postgraduate",
        department="law",
        home_branch="main",
        birth_year=1999,
        address="北京市海淀区颐和园路5号",
        notes="prefers WeChat",
        identifiers=[
            {"kind": "library_card", "value": CARD, "source": "front desk"},
            {"kind": "campus_id", "value": CAMPUS, "source": "campus directory", "verified": True},
            {"kind": "phone", "value": PHONE, "source": "front desk"},
            {"kind": "email", "value": EMAIL, "source": "web form"},
            {"kind": "national_id", "value": "11010519491231002X", "source": "front desk"},
        ],
    )


@pytest.fixture
def smith(make_patron: Callable[..., Any], places: None) -> Patron:
    return make_patron(
        name="Emily Smith",
        category="faculty",
        department="phys",
        home_branch="east",
        status="suspended",
    )


def identifier(patron: Patron, kind: str) -> Identifier:
    return patron.identifiers.get(kind=kind)


def listed(response: Any) -> list[Patron]:
    return list(response.context["page"].object_list)


# ---- Search and list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "张伟",
        "zhang wei",
        "Zhang Wei",
        "ZHANGWEI",  # 汉字 and pinyin
        CARD,
        CARD.lower(),
        CAMPUS,  # library card, campus ID
        PHONE,
        "+86 138-0013-8000",  # phone, as typed in two ways
        EMAIL,
        EMAIL.upper(),  # e-mail
    ],
)
def test_one_search_box_finds_a_patron_by_name_or_any_identifier(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron, query: str
) -> None:
    response = staff_client("front_desk").get("/patrons/", {"q": query})
    assert response.status_code == 200
    assert listed(response) == [zhang]


def test_a_latin_name_is_found_by_any_of_its_words(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron
) -> None:
    client = staff_client("front_desk")
    assert listed(client.get("/patrons/", {"q": "smith"})) == [smith]
    assert listed(client.get("/patrons/", {"q": "Emily Smith"})) == [smith]


def test_a_search_that_matches_nobody_says_so(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    response = staff_client("front_desk").get("/patrons/", {"q": "李四"}, HTTP_ACCEPT_LANGUAGE="en")
    assert listed(response) == []
    assert "No patron matches this search." in response.text


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "faculty"}, "smith"),
        ({"status": "suspended"}, "smith"),
        ({"department": "law"}, "zhang"),
        ({"branch": "main"}, "zhang"),
        ({"branch": "east", "q": "zhang wei"}, None),
    ],
)
def test_filters_narrow_the_list(
    staff_client: Callable[[str], Any],
    zhang: Patron,
    smith: Patron,
    filters: dict[str, str],
    expected: str | None,
) -> None:
    response = staff_client("front_desk").get("/patrons/", filters)
    assert listed(response) == (
        [] if expected is None else [{"zhang": zhang, "smith": smith}[expected]]
    )


def test_an_unknown_filter_value_is_ignored(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron
) -> None:
    response = staff_client("front_desk").get("/patrons/", {"department": "no-such"})
    assert response.status_code == 200
    assert len(listed(response)) == 2


def test_the_list_shows_the_agreed_columns_with_the_card_masked(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    page = staff_client("front_desk").get("/patrons/", HTTP_ACCEPT_LANGUAGE="en").text
    for text in ["张伟", "Postgraduate", "School of Law", "25–34", "Active", "L2•••01"]:
        assert text in page
    assert CARD not in page
    assert f"/patrons/{zhang.uuid}/" in page


def test_the_list_is_paginated_by_25(
    staff_client: Callable[[str], Any], make_patron: Callable[..., Any]
) -> None:
    for _ in range(30):
        make_patron()
    client = staff_client("front_desk")
    assert len(listed(client.get("/patrons/"))) == 25
    second = client.get("/patrons/", {"page": 2})
    assert len(listed(second)) == 5
    assert len(listed(client.get("/patrons/", {"page": "999"}))) == 5


def test_the_list_does_not_query_per_patron(
    staff_client: Callable[[str], Any],
    make_patron: Callable[..., Any],
    places: None,
    django_assert_max_num_queries: Any,
) -> None:
    for n in range(30):
        make_patron(
            department="law",
            home_branch="main",
            identifiers=[
                {"kind": "library_card", "value": f"NQ{n:04d}"},
                {"kind": "phone", "value": f"1390000{n:04d}"},
            ],
        )
    client = staff_client("front_desk")
    with django_assert_max_num_queries(14):
        response = client.get("/patrons/")
    assert len(listed(response)) == 25


def test_searches_are_audited_without_what_was_typed(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    client = staff_client("front_desk")
    client.get("/patrons/", {"q": PHONE, "status": "active"})
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_PATRONS)
    assert event.actor_id == client.user.pk
    assert event.detail == {"filters": ["query", "status"], "results": 1, "page": 1}
    assert PHONE not in str(event.detail) and PHONE not in event.target


# ---- The patron page ------------------------------------------------------------------------


def test_the_patron_page_shows_basic_data_and_masked_identifiers(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    response = staff_client("subject_liaison").get(
        f"/patrons/{zhang.uuid}/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.text
    for text in [
        "张伟",
        "1999",
        "25–34",
        "Postgraduate",
        "School of Law",
        "Main Library",
        "北京市海淀区颐和园路5号",
        "prefers WeChat",
        zhang.patron_key,
        "L2•••01",
        "S2•••01",
        "+86138••••8000",
        "z•••@example.edu.cn",
        "campus directory",
        "Verified",
        "Hash only",
    ]:
        assert text in page, text
    for secret in [CARD, CAMPUS, FULL_PHONE, EMAIL, "11010519491231002X"]:
        assert secret not in page
    assert response["Cache-Control"].startswith("max-age=0")
    title = page[page.index("<title>") : page.index("</title>")]
    assert "张伟" not in title  # titles stay in the browser's history


def test_viewing_a_patron_is_audited(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    client = staff_client("front_desk")
    client.get(f"/patrons/{zhang.uuid}/", REMOTE_ADDR="10.0.0.9")
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PATRON)
    assert event.patron_id == zhang.pk
    assert event.actor_id == client.user.pk
    assert event.ip == "10.0.0.9"


def test_reveal_buttons_only_for_those_who_may_reveal(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    reveal_url = f"/patrons/{zhang.uuid}/identifiers/{identifier(zhang, 'phone').pk}/reveal/"
    assert reveal_url in staff_client("front_desk").get(f"/patrons/{zhang.uuid}/").text
    assert reveal_url not in staff_client("subject_liaison").get(f"/patrons/{zhang.uuid}/").text


# ---- Reveal ---------------------------------------------------------------------------------


def test_reveal_with_htmx_swaps_in_the_full_value_and_is_audited(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    phone = identifier(zhang, "phone")
    client = staff_client("front_desk")
    response = client.post(
        f"/patrons/{zhang.uuid}/identifiers/{phone.pk}/reveal/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert FULL_PHONE in response.text
    assert "<html" not in response.text  # a fragment, not a page
    event = AuditEvent.objects.get(action=AuditAction.REVEAL_IDENTIFIER)
    assert event.target == f"identifier:{phone.pk}"
    assert event.actor_id == client.user.pk
    assert event.detail == {"kind": "phone"}


def test_reveal_without_javascript_shows_the_page_with_the_value(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    email = identifier(zhang, "email")
    response = staff_client("user_relations").post(
        f"/patrons/{zhang.uuid}/identifiers/{email.pk}/reveal/"
    )
    assert response.status_code == 200
    assert "<html" in response.text
    assert EMAIL in response.text
    assert FULL_PHONE not in response.text  # only the one asked for
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL_IDENTIFIER).count() == 1


def test_reveal_needs_the_permission_and_a_post(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    url = f"/patrons/{zhang.uuid}/identifiers/{identifier(zhang, 'phone').pk}/reveal/"
    assert staff_client("front_desk").get(url).status_code == 405
    response = staff_client("subject_liaison").post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert FULL_PHONE not in response.text
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL_IDENTIFIER).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).exists()


def test_a_hash_only_identifier_cannot_be_revealed(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    national = identifier(zhang, "national_id")
    client = staff_client("front_desk")
    response = client.post(
        f"/patrons/{zhang.uuid}/identifiers/{national.pk}/reveal/",
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "kept only as a keyed hash" in response.text
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL_IDENTIFIER).exists()


def test_an_identifier_of_another_patron_is_not_found(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron
) -> None:
    other = identifier(smith, "library_card")
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/identifiers/{other.pk}/reveal/"
    )
    assert response.status_code == 404


# ---- Identifiers ----------------------------------------------------------------------------


def test_add_an_identifier(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/identifiers/",
        {"kind": "weibo_id", "value": "1234567890", "source": "Weibo DM", "verified": "on"},
    )
    assert response.status_code == 302
    added = identifier(zhang, "weibo_id")
    assert added.value == "1234567890" and added.verified and added.source == "Weibo DM"
    assert AuditEvent.objects.filter(action=AuditAction.ADD_IDENTIFIER, patron=zhang).exists()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("phone", "12ab", "a phone number may hold only digits"),
        ("email", "nobody", "needs an '@'"),
        ("campus_id", CAMPUS, "already belongs to a patron"),
        ("weibo_id", "", "must not be empty"),
    ],
)
def test_a_refused_identifier_is_explained_on_its_field(
    staff_client: Callable[[str], Any], zhang: Patron, kind: str, value: str, message: str
) -> None:
    before = Identifier.objects.count()
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/identifiers/",
        {"kind": kind, "value": value},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    errors = response.context["identifier_form"].errors
    assert message.lower() in " ".join(errors["value"]).lower()
    assert Identifier.objects.count() == before


def test_mark_verified_and_unverified(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    card = identifier(zhang, "library_card")
    client = staff_client("front_desk")
    url = f"/patrons/{zhang.uuid}/identifiers/{card.pk}/verify/"
    assert client.post(url, {"verified": "1"}).status_code == 302
    card.refresh_from_db()
    assert card.verified
    client.post(url, {"verified": "0"})
    card.refresh_from_db()
    assert not card.verified


def test_remove_asks_first_then_removes(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    email = identifier(zhang, "email")
    client = staff_client("front_desk")
    url = f"/patrons/{zhang.uuid}/identifiers/{email.pk}/remove/"
    confirm = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert "Remove this identifier?" in confirm.text
    assert "z•••@example.edu.cn" in confirm.text and EMAIL not in confirm.text
    assert Identifier.objects.filter(pk=email.pk).exists()
    assert client.post(url).status_code == 302
    assert not Identifier.objects.filter(pk=email.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.REMOVE_IDENTIFIER).exists()


# ---- Households -----------------------------------------------------------------------------


def test_create_a_household_and_let_another_patron_join_by_card(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron
) -> None:
    client = staff_client("front_desk")
    response = client.post(
        f"/patrons/{zhang.uuid}/household/create/",
        {"label": "张家", "address": "颐和园路5号", "role": "head"},
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.household is not None and zhang.household.label == "张家"
    assert zhang.household_role == "head"

    response = client.post(
        f"/patrons/{smith.uuid}/household/join/", {"card_number": CARD.lower(), "role": "partner"}
    )
    assert response.status_code == 302
    smith.refresh_from_db()
    assert smith.household_id == zhang.household_id and smith.household_role == "partner"

    page = client.get(f"/patrons/{zhang.uuid}/", HTTP_ACCEPT_LANGUAGE="en").text
    assert "Emily Smith" in page and f"/patrons/{smith.uuid}/" in page and "Partner" in page


def test_a_household_needs_a_name(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/household/create/",
        {"label": "", "role": "head"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "household needs a name" in " ".join(
        response.context["household_create_form"].errors["label"]
    )
    assert not Household.objects.exists()


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("NOPE0000", "No patron has this library card number."),
        ("!", "must be 3 to 32 letters"),
        (CARD, "This is the patron's own card."),
        ("smith-card", "not in a household yet"),
    ],
)
def test_joining_explains_why_a_card_does_not_lead_to_a_household(
    staff_client: Callable[[str], Any], zhang: Patron, smith: Patron, card: str, message: str
) -> None:
    if card == "smith-card":
        card = identifier(smith, "library_card").value
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/household/join/",
        {"card_number": card, "role": "child"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert (
        message.lower()
        in " ".join(response.context["household_join_form"].errors["card_number"]).lower()
    )
    zhang.refresh_from_db()
    assert zhang.household is None


def test_leave_a_household(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    client = staff_client("front_desk")
    client.post(f"/patrons/{zhang.uuid}/household/create/", {"label": "张家", "role": "head"})
    assert client.post(f"/patrons/{zhang.uuid}/household/leave/").status_code == 302
    zhang.refresh_from_db()
    assert zhang.household is None
    again = client.post(
        f"/patrons/{zhang.uuid}/household/leave/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "not in a household" in again.text


# ---- Registration ---------------------------------------------------------------------------

VALID = {
    "name": "陈静",
    "gender": "female",
    "birth_year": "2003",
    "category": "undergraduate",
    "department": "phys",
    "discipline": "science",
    "research_specialty": "",
    "home_branch": "east",
    "registered_on": "2025-09-01",
    "expires_on": "2029-07-31",
    "status": "active",
    "address": "",
    "notes": "",
    "card_number": "L2025077",
    "phone": "139 1234 5678",
    "email": "chen.jing@example.edu.cn",
}


def test_register_a_patron(staff_client: Callable[[str], Any], places: None) -> None:
    client = staff_client("front_desk")
    form_page = client.get("/patrons/new/")
    assert form_page.status_code == 200
    response = client.post("/patrons/new/", VALID)
    assert response.status_code == 302
    patron = Patron.objects.get()
    assert response["Location"] == f"/patrons/{patron.uuid}/"
    assert patron.name == "陈静" and patron.birth_year == 2003
    assert patron.department.code == "phys" and patron.home_branch.code == "east"
    assert sorted(i.kind for i in patron.identifiers.all()) == ["email", "library_card", "phone"]
    assert identifier(patron, "phone").value == "+8613912345678"
    event = AuditEvent.objects.get(action=AuditAction.CREATE_PATRON)
    assert event.actor_id == client.user.pk
    # Found by pinyin straight away.
    assert listed(client.get("/patrons/", {"q": "chen jing"})) == [patron]


def test_register_with_only_the_required_fields(
    staff_client: Callable[[str], Any], db: Any
) -> None:
    response = staff_client("front_desk").post(
        "/patrons/new/",
        {
            "name": "Ada Lovelace",
            "category": "visitor",
            "gender": "undisclosed",
            "status": "active",
        },
    )
    assert response.status_code == 302
    patron = Patron.objects.get()
    assert patron.registered_on is not None and not patron.identifiers.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"category": ""}, "category", "required"),
        ({"birth_year": "1850"}, "birth_year", "between 1900"),
        ({"birth_year": "abc"}, "birth_year", "whole number"),
        ({"expires_on": "2024-01-01"}, "expires_on", "before the registration date"),
        ({"phone": "12ab"}, "phone", "a phone number may hold only digits"),
        ({"email": "chen.jing"}, "email", "needs an '@'"),
        ({"card_number": "DUP0001"}, "card_number", "already belongs to a patron"),
    ],
)
def test_a_refused_registration_shows_the_reason_on_its_field_and_writes_nothing(
    staff_client: Callable[[str], Any],
    make_patron: Callable[..., Any],
    places: None,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "DUP0001"}])
    client = staff_client("front_desk")
    before = (Patron.objects.count(), Identifier.objects.count(), AuditEvent.objects.count())
    response = client.post("/patrons/new/", {**VALID, **changes}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["form"]
    assert message.lower() in " ".join(form.errors[field]).lower(), form.errors
    assert set(form.errors) == {field}
    assert "Nothing was saved" in response.text
    after = (Patron.objects.count(), Identifier.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_several_problems_are_shown_at_once(
    staff_client: Callable[[str], Any], places: None
) -> None:
    response = staff_client("front_desk").post(
        "/patrons/new/",
        {**VALID, "name": "", "birth_year": "1850", "phone": "12ab"},
    )
    assert set(response.context["form"].errors) == {"name", "birth_year", "phone"}


# ---- Edits ----------------------------------------------------------------------------------


def edit_data(patron: Patron, **changes: str) -> dict[str, str]:
    data = {
        "name": patron.name,
        "gender": patron.gender,
        "birth_year": str(patron.birth_year or ""),
        "category": patron.category,
        "department": patron.department.code if patron.department else "",
        "discipline": patron.discipline,
        "research_specialty": patron.research_specialty,
        "home_branch": patron.home_branch.code if patron.home_branch else "",
        "registered_on": patron.registered_on.isoformat(),
        "expires_on": patron.expires_on.isoformat() if patron.expires_on else "",
        "status": patron.status,
        "address": patron.address,
        "notes": patron.notes,
    }
    return {**data, **changes}


def test_the_edit_form_is_filled_in_and_audited(
    staff_client: Callable[[str], Any], zhang: Patron
) -> None:
    response = staff_client("front_desk").get(f"/patrons/{zhang.uuid}/edit/")
    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == "张伟"
    assert 'value="law" selected' in response.text
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PATRON, patron=zhang).exists()


def test_edit_a_patron(staff_client: Callable[[str], Any], zhang: Patron) -> None:
    client = staff_client("user_relations")
    response = client.post(
        f"/patrons/{zhang.uuid}/edit/",
        edit_data(zhang, name="张薇", status="suspended", home_branch="east"),
    )
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert (zhang.name, zhang.status, zhang.home_branch.code) == ("张薇", "suspended", "east")
    event = AuditEvent.objects.get(action=AuditAction.UPDATE_PATRON)
    assert event.detail == {"fields": ["home_branch", "name", "status"]}
    assert listed(client.get("/patrons/", {"q": "张薇"})) == [zhang]
    assert listed(client.get("/patrons/", {"q": "张伟"})) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "must not be empty"),
        ({"expires_on": "2000-01-01"}, "expires_on", "before the registration date"),
        ({"registered_on": ""}, "registered_on", "required"),
        ({"birth_year": "3000"}, "birth_year", "between 1900"),
    ],
)
def test_a_refused_edit_changes_nothing(
    staff_client: Callable[[str], Any],
    zhang: Patron,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = staff_client("front_desk").post(
        f"/patrons/{zhang.uuid}/edit/", edit_data(zhang, **changes), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert message.lower() in " ".join(response.context["form"].errors[field]).lower()
    fresh = Patron.objects.get(pk=zhang.pk)
    assert (fresh.name, fresh.expires_on, fresh.birth_year) == ("张伟", None, 1999)
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE_PATRON).exists()


def test_what_is_typed_in_the_search_box_never_reaches_the_url(
    staff_client: Any, make_patron: Any, make_staff: Any
) -> None:
    client = staff_client("front_desk")
    patron = make_patron(name="孙丽", identifiers=[{"kind": "phone", "value": "13911112222"}])
    response = client.post(
        "/patrons/", {"q": "139 1111 2222", "category": "undergraduate", "status": ""}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert "1111" not in location and "q=" not in location
    assert "category=undergraduate" in location and "s=" in location
    page = client.get(location)
    assert patron.name in page.content.decode()
    assert 'value="139 1111 2222"' in page.content.decode()  # the box still shows the search
    client.logout()  # a token from another (or an ended) session shows no one
    sign_in_fully(client, make_staff("front_desk"))
    again = client.get(location)
    assert again.status_code == 302 and again["Location"] == "/patrons/"
