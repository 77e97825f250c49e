"""Password links by e-mail, delivered through a real SMTP server on 127.0.0.1: used once,
refused when replayed, forged or expired — each refusal audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from libcrm.portal.models import PortalAccount
from libcrm.portal.session import PATRON_KEY
from libcrm.portal.tests.conftest import Mailbox, card_of, email_of, without_csrf
from libcrm.portal.tokens import SALT
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

FORGOT = reverse("portal:forgot-password")
NEW_PASSWORD = "Osmanthus-tea-1987"


def outcomes() -> list[str]:
    return list(
        AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET)
        .order_by("id")
        .values_list("detail__outcome", flat=True)
    )


def test_activation_by_e_mail_link_over_smtp(smtp: Mailbox, make_member: Any) -> None:
    patron = make_member(password=None)
    client = Client()
    response = client.post(FORGOT, {"card_or_email": card_of(patron)})
    assert response.status_code == 200 and b"Check your e-mail" in response.content
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["X-Envelope-To"] == email_of(patron)
    assert "Set up your library account" in message["Subject"]
    link = smtp.link()
    assert smtp.body().count(link) == 2  # the English and the Chinese part

    assert client.get(link).status_code == 200
    done = client.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("portal:signin")
    assert PortalAccount.objects.get(patron=patron).password.startswith("argon2$")
    signed_in = client.post(
        reverse("portal:signin"), {"card": card_of(patron), "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302 and client.session[PATRON_KEY] == patron.pk

    replay = Client().get(link)
    assert replay.status_code == 400 and b"already been used" in replay.content
    replay_post = Client().post(
        link, {"password1": "Another-pass-555", "password2": "Another-pass-555"}
    )
    assert replay_post.status_code == 400
    assert outcomes() == ["sent", "completed", "used", "used"]
    assert (
        Client()
        .post(reverse("portal:signin"), {"card": card_of(patron), "password": NEW_PASSWORD})
        .status_code
        == 302
    )  # the replay changed nothing


def test_reset_by_e_mail_address_ends_the_old_password_and_sessions(
    smtp: Mailbox, make_member: Any
) -> None:
    patron = make_member()
    old_session = Client()
    old_session.post(
        reverse("portal:signin"), {"card": card_of(patron), "password": "Plum-blossom-2026!"}
    )
    assert old_session.get(reverse("portal:my-data")).status_code == 200
    Client().post(FORGOT, {"card_or_email": email_of(patron).upper()})
    assert "Reset your library password" in smtp.messages[0]["Subject"]
    client = Client()
    client.post(smtp.link(), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert old_session.get(reverse("portal:my-data")).status_code == 302
    assert (
        Client()
        .post(reverse("portal:signin"), {"card": card_of(patron), "password": "Plum-blossom-2026!"})
        .status_code
        == 200
    )


def test_the_answer_is_the_same_whether_or_not_the_card_exists(
    smtp: Mailbox, make_member: Any
) -> None:
    patron = make_member()
    known = Client().post(FORGOT, {"card_or_email": card_of(patron)})
    unknown = Client().post(FORGOT, {"card_or_email": "QQ000001"})
    unknown_email = Client().post(FORGOT, {"card_or_email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == unknown_email.status_code == 200
    assert without_csrf(known.content) == without_csrf(unknown.content)
    assert without_csrf(known.content) == without_csrf(unknown_email.content)
    assert len(smtp.messages) == 1
    assert outcomes() == ["completed", "sent", "no_match", "no_match"]  # set-up, then ours


def test_links_are_rate_limited_per_patron(smtp: Mailbox, make_member: Any, settings: Any) -> None:
    settings.LIBCRM_PORTAL_RESET_PER_HOUR = 2
    patron = make_member()
    for _ in range(3):
        Client().post(FORGOT, {"card_or_email": card_of(patron)})
    assert len(smtp.messages) == 2
    assert outcomes()[1:] == ["sent", "sent", "too_many"]


def test_a_forged_link_is_refused_and_audited(smtp: Mailbox, make_member: Any) -> None:
    patron = make_member()
    Client().post(FORGOT, {"card_or_email": card_of(patron)})
    link = smtp.link()
    token = link.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other_key = signing.dumps({"p": str(patron.uuid), "s": "x"}, salt=SALT, key="not-our-key")
    for bad in (tampered, other_key, "garbage"):
        url = reverse("portal:set-password", args=[bad])
        response = Client().post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code == 400 and b"not valid" in response.content
    assert outcomes()[1:] == ["sent", "forged", "forged", "forged"]
    assert Client().get(link).status_code == 200  # the real link still works


def test_an_expired_link_is_refused(smtp: Mailbox, make_member: Any, settings: Any) -> None:
    patron = make_member()
    Client().post(FORGOT, {"card_or_email": card_of(patron)})
    settings.LIBCRM_PORTAL_RESET_SECONDS = -1  # every link is now older than allowed
    response = Client().post(smtp.link(), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400 and b"expired" in response.content
    assert outcomes()[1:] == ["sent", "expired"]
    assert (
        Client()
        .post(reverse("portal:signin"), {"card": card_of(patron), "password": "Plum-blossom-2026!"})
        .status_code
        == 302
    )  # the old password still works


def test_a_weak_password_is_refused_and_the_link_still_works(
    smtp: Mailbox, make_member: Any
) -> None:
    patron = make_member(password=None)
    Client().post(FORGOT, {"card_or_email": card_of(patron)})
    response = Client().post(smtp.link(), {"password1": "12345678", "password2": "12345678"})
    assert response.status_code == 200 and b"too short" in response.content
    assert not PortalAccount.objects.filter(patron=patron).exists()
    assert Client().get(smtp.link()).status_code == 200


def test_staff_e_mail_an_activation_link(
    smtp: Mailbox, make_member: Any, staff_client: Any
) -> None:
    patron = make_member(password=None)
    client = staff_client("front_desk")
    page = client.get(reverse("console:patron-detail", args=[patron.uuid]))
    assert b"Portal account" in page.content and b"E-mail an activation link" in page.content
    response = client.post(reverse("portal:staff-send-activation", args=[patron.uuid]))
    assert response.status_code == 302
    assert smtp.messages[0]["X-Envelope-To"] == email_of(patron)
    sent = AuditEvent.objects.get(action=AuditAction.PASSWORD_RESET)
    assert sent.actor_label == client.user.get_username() and sent.detail["outcome"] == "sent"


def test_an_analyst_cannot_send_activation_links(
    smtp: Mailbox, make_member: Any, staff_client: Any
) -> None:
    patron = make_member(password=None)
    response = staff_client("analyst").post(
        reverse("portal:staff-send-activation", args=[patron.uuid])
    )
    assert response.status_code == 403 and not smtp.messages
