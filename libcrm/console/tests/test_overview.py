"""The overview page: figures for every role that may see them, never a person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from libcrm.staff.testing import sign_in_fully

NAMES = ["王小明", "李娜", "Emily Carter"]


@pytest.fixture
def population(make_patron: Callable[..., Any]) -> list[Any]:
    patrons = [make_patron(name=name, category="undergraduate") for name in NAMES]
    patrons += [make_patron(category="undergraduate") for _ in range(6)]
    patrons += [make_patron(category="postgraduate") for _ in range(6)]
    patrons += [make_patron(category="faculty") for _ in range(2)]
    return patrons


@pytest.mark.parametrize(
    "role", ["analyst", "front_desk", "subject_liaison", "user_relations", "administrator"]
)
def test_every_role_with_figures_sees_them(
    staff_client: Callable[[str], Any], population: list[Any], role: str
) -> None:
    response = staff_client(role).get("/")
    assert response.status_code == 200
    overview = response.context["overview"]
    assert overview.total.count == 17
    assert overview.by_category.cell("undergraduate").count == 9
    assert overview.by_category.cell("faculty").hidden
    assert overview.by_category.cell("postgraduate").hidden


def test_the_analyst_sees_no_personal_data(
    staff_client: Callable[[str], Any], population: list[Any]
) -> None:
    page = staff_client("analyst").get("/").text
    for patron in population:
        assert patron.name not in page
        assert patron.patron_key not in page
        assert str(patron.uuid) not in page
    assert "Find a patron" not in page
    assert 'href="/patrons/' not in page


def test_hidden_figures_are_marked_and_explained(
    staff_client: Callable[[str], Any], population: list[Any]
) -> None:
    page = staff_client("analyst").get("/", HTTP_ACCEPT_LANGUAGE="en").text
    assert '<span class="suppressed"' in page
    assert "a group of fewer than 5 patrons is never shown" in page


def test_a_new_month_with_few_registrations_shows_fewer_than_k(
    staff_client: Callable[[str], Any], make_patron: Callable[..., Any]
) -> None:
    for _ in range(3):
        make_patron()
    response = staff_client("analyst").get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["overview"].new_this_month.count is None
    assert "&lt;5" in response.text


def test_staff_without_a_role_get_a_friendly_page(client: Any, db: Any) -> None:
    user = get_user_model().objects.create_user("newcomer", password="correct-horse-42")
    sign_in_fully(client, user)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.context["overview"] is None
    assert "no role yet" in response.text
    assert "Patrons in total" not in response.text


def test_search_box_and_register_button_follow_permissions(
    staff_client: Callable[[str], Any], db: Any
) -> None:
    page = staff_client("front_desk").get("/", HTTP_ACCEPT_LANGUAGE="en").text
    assert "Find a patron" in page and "Register a patron" in page
    page = staff_client("subject_liaison").get("/", HTTP_ACCEPT_LANGUAGE="en").text
    assert "Find a patron" in page and "Register a patron" not in page


def test_the_overview_costs_a_fixed_number_of_queries(
    staff_client: Callable[[str], Any],
    population: list[Any],
    django_assert_max_num_queries: Any,
) -> None:
    client = staff_client("analyst")
    with django_assert_max_num_queries(14):
        client.get("/")
