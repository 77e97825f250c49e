"""The signed-in patron's pages: "my data" (identifiers masked, history summarised, viewing
audited) and "my consents" (own record only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from libcrm.consent.models import ConsentRecord
from libcrm.consent.selectors import has_consent
from libcrm.events import services as events
from libcrm.patrons.services import create_household, join_household
from libcrm.portal.tests.conftest import PASSWORD, card_of
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

CONSENTS = reverse("portal:consents")


def signed_in(patron: Any) -> Client:
    client = Client()
    response = client.post(
        reverse("portal:signin"), {"card": card_of(patron), "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def event_store(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"


def test_my_data_shows_masked_identifiers_only_and_is_audited(
    make_member: Any, event_store: None
) -> None:
    patron = make_member(name="林小雨", birth_year=1999)
    events.append_events(
        [
            {
                "event_id": f"portal-{i}",
                "patron_key": patron.patron_key,
                "occurred_at": datetime(2026, 3, 1 + i, 10, tzinfo=UTC),
                "type": "loan" if i % 2 else "gate_in",
                "channel": "physical",
            }
            for i in range(5)
        ],
        source="test",
    )
    page = signed_in(patron).get(reverse("portal:my-data"))
    html = page.content.decode()
    assert page.status_code == 200 and "林小雨" in html
    for identifier in patron.identifiers.all():
        assert identifier.value not in html, identifier.kind
        assert identifier.masked in html
    assert "5 records of your use" in html and "Circulation" in html and "Loan" in html
    viewed = AuditEvent.objects.get(action=AuditAction.VIEW_PATRON)
    assert viewed.patron == patron and viewed.via == "portal"
    assert viewed.detail == {"via": "portal", "part": "my_data"}


def test_my_data_without_any_history(make_member: Any, event_store: None) -> None:
    html = signed_in(make_member()).get(reverse("portal:my-data")).content.decode()
    assert "no records of your use" in html
    assert reverse("portal:export") in html and reverse("portal:erase") in html


def test_a_patron_changes_their_consent(make_member: Any) -> None:
    patron = make_member(birth_year=1990)
    client = signed_in(patron)
    page = client.get(CONSENTS)
    assert page.status_code == 200
    assert b"Allow researchers approved by the library" in page.content  # the wording
    response = client.post(CONSENTS, {"purpose": "research", "granted": "yes"})
    assert response.status_code == 302
    assert has_consent(patron, "research") is True
    record = ConsentRecord.objects.get(patron=patron)
    assert record.via == "portal" and record.wording.version == 1
    client.post(CONSENTS, {"purpose": "analytics", "granted": "no"})
    assert has_consent(patron, "analytics") is False
    history = client.get(CONSENTS).content.decode()
    assert "version 1" in history and "Patron portal" in history


def test_a_consent_change_naming_another_patron_is_refused_and_audited(
    make_member: Any,
) -> None:
    patron, other = make_member(birth_year=1990), make_member(birth_year=1985)
    client = signed_in(patron)
    for field, value in (
        ("patron", str(other.uuid)),
        ("patron_id", str(other.pk)),
        ("patron_key", other.patron_key),
    ):
        response = client.post(CONSENTS, {"purpose": "research", "granted": "yes", field: value})
        assert response.status_code == 403
        assert b"only change your own consents" in response.content
    assert not ConsentRecord.objects.exists()
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED)
    assert denied.count() == 3
    assert {d.detail["field"] for d in denied} == {"patron", "patron_id", "patron_key"}
    assert all(d.patron == patron for d in denied)
    assert has_consent(other, "research") is False


def test_bad_consent_input_changes_nothing(make_member: Any) -> None:
    patron = make_member(birth_year=1990)
    client = signed_in(patron)
    for data in ({"purpose": "marketing", "granted": "yes"}, {"purpose": "research"}):
        assert client.post(CONSENTS, data).status_code == 400
    assert not ConsentRecord.objects.exists()


def test_a_child_cannot_say_yes_in_the_portal_but_can_say_no(make_member: Any) -> None:
    child = make_member(birth_year=timezone.localdate().year - 10, category="child")
    client = signed_in(child)
    page = client.get(CONSENTS).content.decode()
    assert "You are under 14" in page and "Yes, I agree" not in page
    refused = client.post(CONSENTS, {"purpose": "personalisation", "granted": "yes"})
    assert refused.status_code == 400 and b"under 14" in refused.content
    assert not ConsentRecord.objects.exists()
    assert client.post(CONSENTS, {"purpose": "research", "granted": "no"}).status_code == 302


def test_a_choice_made_by_a_guardian_shows_as_such(make_member: Any, actor: Any) -> None:
    from libcrm.consent.services import set_consent

    year = timezone.localdate().year
    child = make_member(birth_year=year - 9, category="child")
    mother = make_member(birth_year=year - 38, category="resident")
    household = create_household(actor, "Lin family")
    join_household(actor, child, household, "child")
    join_household(actor, mother, household, "guardian")
    set_consent(Actor.system("desk"), child, "loan_history", True, via="staff", guardian=mother)
    page = signed_in(child).get(CONSENTS).content.decode()
    assert "Given by a guardian" in page and "by a guardian" in page


def test_portal_pages_need_a_portal_sign_in() -> None:
    for name in ("portal:my-data", "portal:consents"):
        response = Client().get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:signin"))
    assert Client().post(CONSENTS, {"purpose": "research", "granted": "yes"}).status_code == 302


@pytest.fixture
def lin_family(make_member: Any, actor: Any) -> dict[str, Any]:
    year = timezone.localdate().year
    family = {
        "child": make_member(birth_year=year - 9, category="child"),
        "mother": make_member(birth_year=year - 38, category="resident"),
        "brother": make_member(birth_year=year - 19, category="undergraduate"),
        "neighbour_child": make_member(birth_year=year - 8, category="child"),
    }
    household = create_household(actor, "Lin family")
    join_household(actor, family["child"], household, "child")
    join_household(actor, family["mother"], household, "guardian")
    join_household(actor, family["brother"], household, "other")
    next_door = create_household(actor, "Next door")
    join_household(actor, family["neighbour_child"], next_door, "child")
    return family


def test_a_guardian_decides_for_a_child_in_their_care(lin_family: dict[str, Any]) -> None:
    child, mother = lin_family["child"], lin_family["mother"]
    client = signed_in(mother)
    page = client.get(CONSENTS).content.decode()
    assert f"Consents for {child.name}" in page
    response = client.post(
        CONSENTS, {"purpose": "loan_history", "granted": "yes", "child": str(child.uuid)}
    )
    assert response.status_code == 302
    assert has_consent(child, "loan_history") is True
    assert has_consent(mother, "loan_history") is False
    record = ConsentRecord.objects.get(patron=child)
    assert record.guardian == mother and record.via == "portal"


def test_only_guardians_see_children_and_only_their_own(lin_family: dict[str, Any]) -> None:
    brother = signed_in(lin_family["brother"])
    assert "Consents for" not in brother.get(CONSENTS).content.decode()
    refused = brother.post(
        CONSENTS,
        {"purpose": "research", "granted": "yes", "child": str(lin_family["child"].uuid)},
    )
    assert refused.status_code == 403
    mother = signed_in(lin_family["mother"])
    other_child = str(lin_family["neighbour_child"].uuid)
    assert (
        mother.post(
            CONSENTS, {"purpose": "research", "granted": "yes", "child": other_child}
        ).status_code
        == 403
    )
    assert not ConsentRecord.objects.exists()
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED)
    assert [d.detail["field"] for d in denied] == ["child", "child"]


def test_my_data_shows_the_persona_and_tags_in_plain_words(
    make_member: Any, event_store: None
) -> None:
    from libcrm.features.services import refresh_features
    from libcrm.segments.services import install_starter_set

    patron = make_member(name="林小雨", birth_year=1999)
    now = timezone.now()
    events.append_events(
        [
            {
                "event_id": f"persona-{i}",
                "patron_key": patron.patron_key,
                "occurred_at": now.replace(microsecond=0) - timezone.timedelta(days=i),
                "type": "gate_in",
                "channel": "physical",
            }
            for i in range(1, 8)
        ],
        source="test",
    )
    refresh_features()
    install_starter_set(Actor.system("test"))
    html = signed_in(patron).get(reverse("portal:my-data")).content.decode()
    assert "How the library sees your use of it" in html
    assert "Engagement and lifecycle" in html
    assert "Young adults (18–34)" in html  # a starter segment, with why
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONA, patron=patron).count() == 1
