"""Signing in to the portal: Argon2 passwords, a session apart from staff sign-in, throttling,
and one answer for every kind of failure."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from libcrm.portal.models import PortalAccount
from libcrm.portal.session import PATRON_KEY
from libcrm.portal.tests.conftest import PASSWORD, card_of, without_csrf
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

SIGNIN = reverse("portal:signin")


def sign_in(client: Client, card: str, password: str, **extra: Any) -> Any:
    return client.post(SIGNIN, {"card": card, "password": password}, **extra)


def test_a_patron_signs_in_with_card_and_password(make_member: Any) -> None:
    patron = make_member()
    client = Client()
    response = sign_in(client, card_of(patron).lower(), PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("portal:my-data")
    assert client.session[PATRON_KEY] == patron.pk
    assert "_auth_user_id" not in client.session  # not a staff sign-in
    account = PortalAccount.objects.get(patron=patron)
    assert account.password.startswith("argon2$argon2id$")
    assert account.last_login is not None
    login = AuditEvent.objects.get(action=AuditAction.PORTAL_LOGIN)
    assert login.patron == patron and login.via == "portal" and login.ip == "127.0.0.1"
    assert client.get(reverse("portal:my-data")).status_code == 200


def test_every_failure_gets_the_same_answer(make_member: Any) -> None:
    patron = make_member()
    no_account = make_member(password=None)
    answers = {
        "wrong_password": sign_in(Client(), card_of(patron), "not-the-password"),
        "unknown_card": sign_in(Client(), "ZZ999999", PASSWORD),
        "no_account": sign_in(Client(), card_of(no_account), PASSWORD),
        "malformed": sign_in(Client(), "!!", PASSWORD),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert set(statuses.values()) == {200}, statuses
    # The form echoes the card number typed, so compare the answers with that blanked too.
    pages = {
        name: without_csrf(r.content)
        .replace(card_of(patron), "")
        .replace(card_of(no_account), "")
        .replace("ZZ999999", "")
        .replace('value="!!"', 'value=""')
        for name, r in answers.items()
    }
    assert len(set(pages.values())) == 1
    assert "Signing in did not work" in pages["unknown_card"]
    reasons = sorted(
        AuditEvent.objects.filter(action=AuditAction.PORTAL_LOGIN_FAILED).values_list(
            "detail__reason", flat=True
        )
    )
    assert reasons == ["no_account", "unknown_card", "unknown_card", "wrong_password"]
    assert PortalAccount.objects.get(patron=patron).failed_count == 1


def test_too_many_failures_per_card_stop_even_the_right_password(
    make_member: Any, settings: Any
) -> None:
    settings.LIBCRM_PORTAL_CARD_FAILURES = 3
    patron = make_member()
    failed = [sign_in(Client(), card_of(patron), f"guess-{i}") for i in range(3)]
    throttled = sign_in(Client(), card_of(patron), PASSWORD)
    assert throttled.status_code == 200
    assert without_csrf(throttled.content) == without_csrf(failed[-1].content)
    assert PATRON_KEY not in Client().session
    last = AuditEvent.objects.filter(action=AuditAction.PORTAL_LOGIN_FAILED).first()
    assert last.detail == {"reason": "throttled"}
    other = make_member()  # other cards from elsewhere are not affected
    assert sign_in(Client(), card_of(other), PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 302


def test_too_many_failures_from_one_address_stop_it(make_member: Any, settings: Any) -> None:
    settings.LIBCRM_PORTAL_ADDRESS_FAILURES = 3
    patron = make_member()
    for i in range(3):
        sign_in(Client(), f"XX{i:06d}", "whatever", REMOTE_ADDR="10.1.1.1")
    assert sign_in(Client(), card_of(patron), PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 200
    assert sign_in(Client(), card_of(patron), PASSWORD, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_the_pause_ends_when_the_window_passes(make_member: Any, settings: Any) -> None:
    settings.LIBCRM_PORTAL_CARD_FAILURES = 2
    patron = make_member()
    for i in range(2):
        sign_in(Client(), card_of(patron), f"guess-{i}")
    assert sign_in(Client(), card_of(patron), PASSWORD).status_code == 200
    settings.LIBCRM_PORTAL_THROTTLE_SECONDS = 0  # the window is over
    assert sign_in(Client(), card_of(patron), PASSWORD).status_code == 302


def test_a_staff_session_is_not_a_portal_session(staff_client: Any) -> None:
    client = staff_client("administrator")
    response = client.get(reverse("portal:my-data"))
    assert response.status_code == 302 and response["Location"].startswith(SIGNIN)


def test_signing_out_ends_the_portal_session(make_member: Any) -> None:
    patron = make_member()
    client = Client()
    sign_in(client, card_of(patron), PASSWORD)
    assert client.post(reverse("portal:signout")).status_code == 302
    assert PATRON_KEY not in client.session
    assert client.get(reverse("portal:my-data")).status_code == 302
    logout = AuditEvent.objects.get(action=AuditAction.LOGOUT)
    assert logout.patron == patron and logout.via == "portal"


def test_next_only_leads_inside_the_portal(make_member: Any) -> None:
    patron = make_member()
    outside = sign_in(
        Client(), card_of(patron), PASSWORD, QUERY_STRING="next=https://evil.example/"
    )
    assert outside["Location"] == reverse("portal:my-data")
    client = Client()
    inside = client.post(
        SIGNIN,
        {"card": card_of(patron), "password": PASSWORD, "next": reverse("portal:consents")},
    )
    assert inside["Location"] == reverse("portal:consents")
