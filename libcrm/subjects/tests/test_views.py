"""The Privacy panel and its pages (export, correct, erase — exports and erasure need a fresh
proof of identity), the retention page, and the portal's export and erasure."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from libcrm.patrons.models import Patron
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.reauth import SESSION_KEY
from libcrm.staff.testing import sign_in_fully
from libcrm.subjects.models import RetentionPolicy

pytestmark = pytest.mark.django_db


def _stale(client: Client) -> Client:
    """The staff member proved who they are long ago."""
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 86_400
    session.save()
    return client


def test_the_panel_offers_what_the_role_may_do(
    staff_client: Callable[[str], Client],
    make_staff: Callable[..., Any],
    make_patron: Callable[..., Any],
) -> None:
    patron = make_patron()
    page = staff_client("user_relations").get(reverse("console:patron-detail", args=[patron.uuid]))
    html = page.content.decode()
    for name in ("patron-export", "patron-correct", "patron-erase"):
        assert reverse(f"subjects:{name}", args=[patron.uuid]) in html
    desk = Client()
    sign_in_fully(desk, make_staff("front_desk"))
    html = desk.get(reverse("console:patron-detail", args=[patron.uuid])).content.decode()
    assert reverse("subjects:patron-correct", args=[patron.uuid]) in html
    assert reverse("subjects:patron-erase", args=[patron.uuid]) not in html
    assert reverse("subjects:patron-export", args=[patron.uuid]) not in html


def test_export_needs_a_fresh_proof_then_downloads_the_archive(
    staff_client: Callable[[str], Client], make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(name="Zip Person")
    client = staff_client("administrator")
    url = reverse("subjects:patron-export", args=[patron.uuid])
    stale = _stale(client).get(url)
    assert stale.status_code == 302 and "next=" in stale["Location"]
    sign_in_fully(client, client.user)
    assert "Download the archive" in client.get(url).content.decode()
    response = client.post(url)
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert json.loads(archive.read("patron.json"))["patron"]["name"] == "Zip Person"
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT_SUBJECT, patron=patron).exists()


def test_erasure_asks_for_a_reason_and_the_word(
    staff_client: Callable[[str], Client], make_patron: Callable[..., Any]
) -> None:
    patron = make_patron()
    client = staff_client("user_relations")
    url = reverse("subjects:patron-erase", args=[patron.uuid])
    refused = client.post(url, {"reason": "patron_request", "confirm": "yes"})
    assert refused.status_code == 200
    assert "Type ERASE" in refused.content.decode()
    assert Patron.objects.filter(pk=patron.pk).exists()
    done = client.post(url, {"reason": "patron_request", "confirm": "ERASE"})
    assert done.status_code == 302 and done["Location"] == reverse("console:patron-list")
    assert not Patron.objects.filter(pk=patron.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.ERASE_PATRON).count() == 1


def test_correction_form_saves_and_audits(
    staff_client: Callable[[str], Client], make_patron: Callable[..., Any]
) -> None:
    patron = make_patron(name="Old Name", category="undergraduate")
    client = staff_client("front_desk")
    url = reverse("subjects:patron-correct", args=[patron.uuid])
    assert "Old Name" in client.get(url).content.decode()
    form = {
        "name": "New Name",
        "gender": "undisclosed",
        "category": "undergraduate",
        "status": "active",
        "registered_on": patron.registered_on.isoformat(),
    }
    response = client.post(url, form)
    assert response.status_code == 302
    patron.refresh_from_db()
    assert patron.name == "New Name"
    assert AuditEvent.objects.get(action=AuditAction.CORRECT_PATRON).detail == {"fields": ["name"]}


def test_retention_page_runs_and_reports(staff_client: Callable[[str], Client]) -> None:
    client = staff_client("administrator")
    url = reverse("subjects:retention")
    page = client.get(url).content.decode()
    assert "Loan history" in page
    report = client.post(url, {"dry_run": "1"}).content.decode()
    assert "Dry run: what would change" in report
    run = AuditEvent.objects.get(action=AuditAction.RETENTION_RUN)
    assert run.detail["dry_run"] is True


def test_retention_policy_form_refuses_a_bad_basis(staff_client: Callable[[str], Client]) -> None:
    client = staff_client("administrator")
    policy = RetentionPolicy.objects.get(name="Feedback and surveys")
    url = reverse("subjects:retention-edit", args=[policy.pk])
    response = client.post(
        url,
        {
            "name": policy.name,
            "event_types": ["feedback"],
            "action": "anonymise",
            "age_days": "30",
            "measured_from": "return",
            "exempt_consent": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "counting from the return" in response.content.decode().lower()
    policy.refresh_from_db()
    assert policy.age_days == 730
    saved = client.post(
        url,
        {
            "name": policy.name,
            "event_types": ["feedback", "survey_answer"],
            "action": "delete",
            "age_days": "400",
            "measured_from": "event",
            "exempt_consent": "",
            "enabled": "on",
        },
    )
    assert saved.status_code == 302
    policy.refresh_from_db()
    assert (policy.action, policy.age_days) == ("delete", 400)


@pytest.fixture
def member(make_patron: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Client]:
    """A patron with a portal account, signed in to the portal."""
    from libcrm.portal import services
    from libcrm.portal.tokens import make_link_token

    monkeypatch.setattr(services.HASHER, "memory_cost", 1024)  # light Argon2 for tests
    monkeypatch.setattr(services.HASHER, "time_cost", 1)
    patron = make_patron(identifiers=[{"kind": "library_card", "value": "PE000042"}])
    services.set_password_from_link(make_link_token(patron), "Plum-blossom-2026!", ip=None)
    client = Client()
    signed = client.post(
        reverse("portal:signin"), {"card": "PE000042", "password": "Plum-blossom-2026!"}
    )
    assert signed.status_code == 302
    return patron, client


def test_portal_export_and_erasure(member: tuple[Any, Client]) -> None:
    patron, client = member
    archive = client.post(reverse("portal:export"))
    assert archive["Content-Type"] == "application/zip"
    data = json.loads(zipfile.ZipFile(io.BytesIO(archive.content)).read("patron.json"))
    assert data["identifiers"][0]["value"] == "PE000042"
    assert data["portal_account"] is not None
    assert "password" not in json.dumps(data["portal_account"])
    wrong = client.post(reverse("portal:erase"), {"password": "nope", "understood": "on"})
    assert "not your password" in wrong.content.decode()
    assert Patron.objects.filter(pk=patron.pk).exists()
    gone = client.post(
        reverse("portal:erase"), {"password": "Plum-blossom-2026!", "understood": "on"}
    )
    assert "has been erased" in gone.content.decode()
    assert not Patron.objects.filter(pk=patron.pk).exists()
    assert client.get(reverse("portal:my-data")).status_code == 302  # signed out
