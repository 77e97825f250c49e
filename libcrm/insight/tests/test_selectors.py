"""The overview's figures: counted from clear-text columns, suppressed before anyone sees them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import translation

from libcrm.insight.aggregates import Mark
from libcrm.insight.selectors import patron_overview
from libcrm.patrons.models import Branch, Department

TODAY = date(2025, 6, 15)


@pytest.fixture
def places(db: Any) -> None:
    Department.objects.create(code="law", name_zh="法学院", name_en="School of Law")
    Department.objects.create(code="phys", name_zh="物理学院", name_en="School of Physics")
    Branch.objects.create(code="main", name_zh="总馆", name_en="Main Library")


def register(make_patron: Callable[..., Any], n: int, **fields: Any) -> None:
    for _ in range(n):
        make_patron(**fields)


@pytest.mark.usefixtures("places")
def test_counts_by_every_dimension(make_patron: Callable[..., Any]) -> None:
    register(
        make_patron,
        8,
        category="undergraduate",
        department="law",
        home_branch="main",
        birth_year=2004,
        registered_on="2025-06-02",
    )
    register(
        make_patron,
        6,
        category="postgraduate",
        department="phys",
        birth_year=1998,
        status="expired",
        registered_on="2025-03-10",
    )
    register(
        make_patron,
        2,
        category="faculty",
        department="phys",
        birth_year=1970,
        status="provisional",
        registered_on="2023-01-05",
    )

    overview = patron_overview(TODAY, k=5)

    assert overview.total is not None and overview.total.count == 16
    assert overview.active.count == 8
    assert overview.provisional.hidden  # 2 provisional patrons
    assert overview.by_status.cell("expired").hidden  # so that 16 − 8 leaves two unknowns
    assert overview.by_category.cell("undergraduate").count == 8
    assert overview.by_category.cell("faculty").hidden
    assert overview.by_category.cell("postgraduate").hidden  # protects the 2 faculty
    assert overview.by_category.cell("child").count == 0
    assert overview.by_department.cell("law").count == 8
    assert overview.by_department.cell("phys").count == 8
    assert overview.by_branch.cell("main").count == 8
    assert overview.by_branch.cell("none").count == 8
    assert overview.by_age_band.cell("18-24").count == 8  # born 2004: 21
    assert overview.by_age_band.cell("45-59").hidden  # born 1970: 55, two of them
    assert overview.by_age_band.cell("25-34").hidden  # born 1998: the six protect the two


@pytest.mark.usefixtures("places")
def test_registrations_cover_the_last_twelve_months(make_patron: Callable[..., Any]) -> None:
    register(make_patron, 6, registered_on="2025-06-01")
    register(make_patron, 3, registered_on="2024-07-31")
    register(make_patron, 9, registered_on="2024-06-30")  # thirteen months ago: outside

    overview = patron_overview(TODAY, k=5)

    series = overview.registrations
    assert (series.cells[0].key, series.cells[-1].key) == ("2024-07", "2025-06")
    assert len(series.cells) == 12
    assert series.total is None
    assert series.cell("2024-07").mark is Mark.FEWER_THAN_K
    assert series.cell("2025-01").count == 0
    assert overview.new_this_month.count == 6


@pytest.mark.usefixtures("places")
def test_place_names_follow_the_language(make_patron: Callable[..., Any]) -> None:
    register(make_patron, 5, department="law")
    with translation.override("zh-hans"):
        assert patron_overview(TODAY, k=5).by_department.cell("law").label == "法学院"
    with translation.override("en"):
        assert patron_overview(TODAY, k=5).by_department.cell("law").label == "School of Law"


@pytest.mark.django_db
def test_an_empty_registry_has_zero_everywhere() -> None:
    overview = patron_overview(TODAY, k=5)
    assert overview.total is not None and overview.total.count == 0
    assert overview.by_department.cells == ()
    assert overview.new_this_month.count == 0


@pytest.mark.usefixtures("places")
def test_k_comes_from_settings(make_patron: Callable[..., Any], settings: Any) -> None:
    settings.LIBCRM_MIN_GROUP_SIZE = 3
    register(make_patron, 3, category="faculty")
    register(make_patron, 10)
    overview = patron_overview(TODAY)
    assert overview.k == 3
    assert overview.by_category.cell("faculty").count == 3
