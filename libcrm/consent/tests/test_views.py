"""The patron page's consent panel: staff record a choice, a guardian for a child."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from libcrm.consent.models import ConsentRecord
from libcrm.consent.selectors import has_consent
from libcrm.patrons.services import create_household, join_household

pytestmark = pytest.mark.django_db

YEAR = timezone.localdate().year


def test_the_patron_page_shows_consents_and_staff_record_one(
    make_patron: Any, staff_client: Any
) -> None:
    patron = make_patron(birth_year=YEAR - 40)
    client = staff_client("front_desk")
    page = client.get(reverse("console:patron-detail", args=[patron.uuid])).content.decode()
    assert 'id="consents"' in page and "Record a choice the patron made" in page
    url = reverse("portal:staff-set-consent", args=[patron.uuid])
    response = client.post(url, {"purpose": "outreach_sms", "granted": "yes"})
    assert response.status_code == 302 and response["Location"].endswith("#consents")
    record = ConsentRecord.objects.get(patron=patron)
    assert record.via == "staff" and record.actor_label == client.user.get_username()
    assert has_consent(patron, "outreach_sms") is True


def test_staff_record_a_childs_consent_with_a_guardian_of_its_household(
    make_patron: Any, staff_client: Any, actor: Any
) -> None:
    child = make_patron(birth_year=YEAR - 7, category="child")
    father = make_patron(birth_year=YEAR - 35, category="resident")
    stranger = make_patron(birth_year=YEAR - 35, category="resident")
    household = create_household(actor, "Wang family")
    join_household(actor, child, household, "child")
    join_household(actor, father, household, "head")
    client = staff_client("user_relations")
    url = reverse("portal:staff-set-consent", args=[child.uuid])
    client.post(url, {"purpose": "research", "granted": "yes"})  # no guardian: refused
    client.post(url, {"purpose": "research", "granted": "yes", "guardian": str(stranger.uuid)})
    assert not ConsentRecord.objects.exists()
    client.post(url, {"purpose": "research", "granted": "yes", "guardian": str(father.uuid)})
    assert ConsentRecord.objects.get(patron=child).guardian == father
    page = client.get(reverse("console:patron-detail", args=[child.uuid])).content.decode()
    assert "Under 14" in page and "by a guardian" in page


def test_an_analyst_cannot_record_consent(make_patron: Any, staff_client: Any) -> None:
    patron = make_patron()
    url = reverse("portal:staff-set-consent", args=[patron.uuid])
    assert (
        staff_client("analyst").post(url, {"purpose": "research", "granted": "yes"}).status_code
        == 403
    )
    assert not ConsentRecord.objects.exists()
