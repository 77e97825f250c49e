"""Console pages for API tokens: administrators only, the secret shown once, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from libcrm.api.models import ApiToken, Scope
from libcrm.api.tests.helpers import TokenClient, issue_token
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.testing import sign_in_fully

pytestmark = pytest.mark.django_db

LIST = reverse("api-tokens:list")
CREATE = reverse("api-tokens:create")


def create(client: Client, **overrides: object):
    data = {"name": "Koha sync", "scopes": [Scope.PATRONS_READ], "expires_on": ""}
    data.update(overrides)
    return client.post(CREATE, data)


def test_administrator_creates_a_token_and_sees_the_secret_once(staff_client) -> None:
    admin = staff_client("administrator")
    assert admin.get(CREATE).status_code == 200

    response = create(admin, scopes=[Scope.PATRONS_READ, Scope.PATRONS_REVEAL])
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    plaintext = response.context["plaintext"]
    assert plaintext.startswith("lcrm_") and plaintext in response.content.decode()
    token = ApiToken.objects.get()
    assert token.created_by == admin.user
    assert token.scopes == ["patrons:read", "patrons:reveal"]

    listing = admin.get(LIST)
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Koha sync" in page and token.prefix in page
    assert plaintext not in page and plaintext.split("_", 2)[2] not in page

    assert TokenClient(plaintext).get("/api/v1/patrons").status_code == 200


def test_list_shows_each_tokens_status_and_offers_revoke_only_when_useful(staff_client) -> None:
    admin = staff_client("administrator")
    active, _ = issue_token(Scope.PATRONS_READ, name="active one")
    expired, _ = issue_token(Scope.PATRONS_READ, name="expired one")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    revoked, _ = issue_token(Scope.PATRONS_READ, name="revoked one")
    admin.post(reverse("api-tokens:revoke", args=[revoked.pk]))

    page = admin.get(LIST)
    statuses = {token.name: status for token, status in page.context["rows"]}
    assert statuses == {"active one": "active", "expired one": "expired", "revoked one": "revoked"}
    html = page.content.decode()
    assert html.count('class="badge ok"') == 1 and html.count('class="badge warn"') == 1
    assert reverse("api-tokens:revoke", args=[active.pk]) in html
    assert reverse("api-tokens:revoke", args=[expired.pk]) in html
    assert reverse("api-tokens:revoke", args=[revoked.pk]) not in html


def test_expiry_date_means_the_end_of_that_day(staff_client) -> None:
    admin = staff_client("administrator")
    day = timezone.localdate() + timedelta(days=3)
    assert create(admin, expires_on=day.isoformat()).status_code == 201
    expires_at = timezone.localtime(ApiToken.objects.get().expires_at)
    assert expires_at.date() == day + timedelta(days=1)
    assert (expires_at.hour, expires_at.minute) == (0, 0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["patrons:everything"]}, "scopes"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"expires_on": (timezone.localdate() - timedelta(days=2)).isoformat()}, "expires_on"),
        ({"expires_on": "31/12/2030"}, "expires_on"),
    ],
)
def test_invalid_form_creates_nothing(staff_client, overrides: dict, field: str) -> None:
    admin = staff_client("administrator")
    response = create(admin, **overrides)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not ApiToken.objects.exists()


def test_revoke_asks_first_then_revokes(staff_client) -> None:
    admin = staff_client("administrator")
    token, plaintext = issue_token(Scope.PATRONS_READ, name="gate counter")
    url = reverse("api-tokens:revoke", args=[token.pk])

    confirm = admin.get(url)
    assert confirm.status_code == 200
    assert "gate counter" in confirm.content.decode()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None

    response = admin.post(url)
    assert response.status_code == 302 and response["Location"] == LIST
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert AuditEvent.objects.filter(
        action=AuditAction.REVOKE_TOKEN, actor_id=admin.user.pk
    ).exists()
    assert TokenClient(plaintext).get("/api/v1/patrons").status_code == 401


def test_revoked_token_page_says_so_instead_of_asking_again(staff_client) -> None:
    admin = staff_client("administrator")
    token, _plaintext = issue_token(Scope.PATRONS_READ, name="old gate")
    url = reverse("api-tokens:revoke", args=[token.pk])
    admin.post(url)
    page = admin.get(url)
    assert page.status_code == 200
    assert page.context["status"] == "revoked"
    assert b'method="post"' not in page.content.split(b"<main")[1]
    assert admin.post(url).status_code == 302  # a second revoke is harmless
    assert AuditEvent.objects.filter(action=AuditAction.REVOKE_TOKEN).count() == 1


def test_revoking_an_unknown_token_is_404(staff_client) -> None:
    admin = staff_client("administrator")
    assert admin.post(reverse("api-tokens:revoke", args=[999])).status_code == 404


@pytest.mark.parametrize("role", ["front_desk", "analyst", "user_relations"])
def test_other_roles_are_refused(staff_client, role: str) -> None:
    token, _plaintext = issue_token(Scope.PATRONS_READ)
    client = staff_client(role)
    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert create(client).status_code == 403
    assert client.post(reverse("api-tokens:revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() == 4


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_forms_are_csrf_protected(make_staff) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in_fully(client, make_staff("administrator"))
    response = client.post(CREATE, {"name": "x", "scopes": [Scope.PATRONS_READ]})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()
