"""``libcrm demo``: the demo library goes through the real services, once."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from libcrm.patrons.models import Branch, Department, Household, Identifier, Patron
from libcrm.patrons.selectors import PatronFilters, find_patron_by_identifier, search_patrons
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.roles import Role, role_of
from libcrm.world import campus
from libcrm.world.generate import DEMO_PASSWORD
from libcrm.world.world import WorldConfig, build_people

pytestmark = pytest.mark.django_db

SIZE, SEED = 60, 3


def _demo(**options: Any) -> str:
    """The registry part of the demo (``--days 0``: no behaviour, no files to ingest)."""
    out = StringIO()
    call_command("demo", stdout=out, **{"patrons": SIZE, "seed": SEED, "days": 0, **options})
    return out.getvalue()


def test_demo_registers_patrons_households_and_staff_through_the_services() -> None:
    output = _demo()
    config = WorldConfig(until=timezone.localdate(), patrons=SIZE, seed=SEED, days=0)
    expected = build_people(config).registry()

    assert Patron.objects.count() == SIZE
    assert sorted(p.name for p in Patron.objects.all()) == sorted(p.name for p in expected.patrons)
    assert Branch.objects.count() == len(campus.BRANCHES)
    assert Department.objects.count() == len(campus.DEPARTMENTS)
    assert Household.objects.count() == len(expected.households)
    assert Identifier.objects.count() == sum(len(p.identifiers) for p in expected.patrons)
    # Every patron was registered (and audited) by the registration service.
    assert AuditEvent.objects.filter(action=AuditAction.CREATE_PATRON).count() == SIZE

    for child in Patron.objects.filter(category="child"):
        assert child.household is not None and child.household_role == "child"
        assert child.household.members.exclude(category="child").exists()

    sample = expected.patrons[0]
    card = next(i for i in sample.identifiers if i.kind == "library_card")
    found = find_patron_by_identifier("library_card", card.value)
    assert found is not None and found.name == sample.name
    assert found.department is not None and found.department.code == sample.department
    assert search_patrons(PatronFilters(query=sample.name)).filter(pk=found.pk).exists()

    users = get_user_model().objects
    for spec in expected.staff:
        user = authenticate(username=spec.username, password=DEMO_PASSWORD)
        assert user is not None, spec.username
        assert role_of(user) == Role(spec.role)
        assert users.get(username=spec.username).staff_profile.display_name == spec.display_name

    assert f"Loaded {SIZE} patrons" in output
    assert DEMO_PASSWORD in output and "/accounts/login/" in output
    for role in Role:
        assert str(role.label) in output


def test_second_run_says_so_and_changes_nothing() -> None:
    _demo()
    audit_before = AuditEvent.objects.count()
    output = _demo(patrons=500, seed=99)
    assert "already loaded" in output
    assert Patron.objects.count() == SIZE
    assert get_user_model().objects.count() == len(Role)
    assert AuditEvent.objects.count() == audit_before


def test_an_existing_account_with_a_demo_username_is_left_alone(
    make_staff: Callable[..., Any],
) -> None:
    make_staff("analyst", username="admin", password="my-own-secret-77")
    output = _demo(patrons=5)
    assert authenticate(username="admin", password="my-own-secret-77") is not None
    assert authenticate(username="admin", password=DEMO_PASSWORD) is None
    assert "already existed" in output
    assert authenticate(username="desk", password=DEMO_PASSWORD) is not None


def test_refuses_a_database_that_already_holds_other_patrons(
    make_patron: Callable[..., Any],
) -> None:
    make_patron(name="李娜")
    with pytest.raises(CommandError, match="already holds 1 patrons"):
        _demo()
    assert Patron.objects.count() == 1
    assert not Branch.objects.filter(code=campus.MAIN).exists()


def test_refuses_a_negative_count() -> None:
    with pytest.raises(CommandError, match="--patrons must be between 0"):
        _demo(patrons=-1)
