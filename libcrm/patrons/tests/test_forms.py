"""Console forms for patrons: they carry values to the services and show the services' problems
on the right fields."""

from __future__ import annotations

from typing import Any

import pytest

from libcrm.patrons.errors import FieldProblem
from libcrm.patrons.forms import (
    IdentifierForm,
    PatronCreateForm,
    PatronForm,
    PatronSearchForm,
    add_problems,
)
from libcrm.patrons.models import Department
from libcrm.patrons.validation import PATRON_FIELDS

pytestmark = pytest.mark.django_db


def bound_create_form(**data: str) -> PatronCreateForm:
    form = PatronCreateForm({"gender": "undisclosed", "status": "active", **data})
    assert form.is_valid(), form.errors
    return form


def test_problems_land_on_fields_through_their_paths_and_aliases() -> None:
    form = bound_create_form(name="x", phone="12ab")
    add_problems(
        form,
        [
            FieldProblem("name", "must not be empty"),
            FieldProblem("identifiers[0].value", "a phone number has 6 to 15 digits"),
            FieldProblem("identifiers", "an identifier already belongs to another patron"),
            FieldProblem("unknown_field", "is not a patron field"),
        ],
        {"identifiers[0]": "phone"},
    )
    assert form.errors["name"] == ["Must not be empty"]
    assert form.errors["phone"] == ["A phone number has 6 to 15 digits"]
    assert form.non_field_errors() == [
        "An identifier already belongs to another patron",
        "Is not a patron field",
    ]


def test_identifiers_are_numbered_in_the_order_the_service_sees_them() -> None:
    form = bound_create_form(name="x", card_number="", phone=" 13800138000 ", email="a@b.cn")
    items, aliases = form.identifiers()
    assert items == [
        {"kind": "phone", "value": "13800138000", "source": "console"},
        {"kind": "email", "value": "a@b.cn", "source": "console"},
    ]
    assert aliases == {"identifiers[0]": "phone", "identifiers[1]": "email"}


def test_a_new_patron_leaves_blank_fields_to_the_registry_defaults() -> None:
    form = bound_create_form(name="李娜", category="undergraduate", registered_on="")
    assert form.patron_fields() == {
        "name": "李娜",
        "gender": "undisclosed",
        "category": "undergraduate",
        "status": "active",
    }


def test_an_edit_sends_every_field_so_that_blanking_one_is_a_change() -> None:
    form = PatronForm(
        {
            "name": "李娜",
            "gender": "female",
            "category": "faculty",
            "status": "active",
            "birth_year": "",
        }
    )
    assert form.is_valid(), form.errors
    fields = form.patron_fields()
    assert set(fields) == set(PATRON_FIELDS)
    assert fields["birth_year"] is None and fields["department"] is None


def test_required_fields_are_hinted_to_the_browser_but_checked_by_the_service() -> None:
    form = PatronCreateForm()
    assert form.fields["name"].widget.attrs.get("required") is True
    assert form.fields["name"].required is False
    assert "required" in str(form["category"])


def test_a_new_patron_is_registered_today_by_default() -> None:
    from django.utils import timezone

    assert PatronCreateForm()["registered_on"].value() == timezone.localdate()


def test_departments_are_chosen_by_code() -> None:
    law = Department.objects.create(code="law", name_zh="法学院", name_en="School of Law")
    form = PatronForm(
        {
            "name": "x",
            "gender": "other",
            "category": "staff",
            "status": "active",
            "department": "law",
        }
    )
    assert form.is_valid(), form.errors
    assert form.patron_fields()["department"] == law


def test_the_identifier_form_passes_everything_to_the_service() -> None:
    form = IdentifierForm({"kind": "email", "value": "Li.Na@Example.cn", "source": "web"})
    assert form.is_valid()
    assert form.item() == {
        "kind": "email",
        "value": "Li.Na@Example.cn",
        "source": "web",
        "verified": False,
    }


def test_search_filters_ignore_values_that_are_not_choices() -> None:
    Department.objects.create(code="law", name_zh="法学院", name_en="School of Law")
    form = PatronSearchForm(
        {
            "q": "  zhang wei ",
            "category": "wizard",
            "department": "law",
            "branch": "nowhere",
            "status": "active",
        }
    )
    assert form.filters() == {
        "query": "zhang wei",
        "category": "",
        "status": "active",
        "department": "law",
        "home_branch": "",
    }


def test_empty_search_means_no_filters() -> None:
    assert not any(PatronSearchForm({}).filters().values())


def test_form_labels_follow_the_language(settings: Any) -> None:
    from django.utils import translation

    with translation.override("zh-hans"):
        assert str(PatronForm()["birth_year"].label) == "出生年份"
