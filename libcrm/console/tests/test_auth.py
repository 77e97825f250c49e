"""Signing in and out: styled pages in both languages, and every attempt in the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.testing import sign_in_fully

PASSWORD = "correct-horse-42"


@pytest.fixture
def librarian(make_staff: Callable[..., Any]) -> Any:
    # An analyst signs in with the password alone; roles that see personal data add a second
    # factor, tested in libcrm/staff/tests/test_sign_in.py.
    return make_staff("analyst", username="li.na")


def test_anonymous_visitors_are_sent_to_sign_in(client: Any, db: Any) -> None:
    response = client.get("/patrons/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/patrons/"


def test_sign_in_page_in_english(client: Any, db: Any) -> None:
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Sign in to libcrm" in response.text
    assert 'name="username"' in response.text and 'name="password"' in response.text


def test_sign_in_page_in_chinese(client: Any, db: Any) -> None:
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 200
    assert "登录 libcrm" in response.text
    assert "Sign in to libcrm" not in response.text


def test_successful_sign_in_is_audited(client: Any, librarian: Any) -> None:
    response = client.post(
        "/accounts/login/?next=/patrons/",
        {"username": "li.na", "password": PASSWORD},
        REMOTE_ADDR="10.20.30.40",
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert event.actor_id == librarian.pk
    assert event.actor_label == "li.na"
    assert event.ip == "10.20.30.40"
    assert event.via == "console"


def test_sign_in_returns_to_the_page_asked_for(client: Any, librarian: Any) -> None:
    response = client.post(
        "/accounts/login/", {"username": "li.na", "password": PASSWORD, "next": "/patrons/"}
    )
    assert response["Location"] == "/patrons/"


@pytest.mark.parametrize("username", ["li.na", "13800138000"])
def test_failed_sign_in_is_audited_without_what_was_typed(
    client: Any, librarian: Any, username: str
) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": username, "password": "wrong-password"},
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.ip == "10.9.8.7"
    assert event.actor_id is None
    assert event.actor_label == "anonymous"
    stored = f"{event.actor_label} {event.target} {event.detail} {event.patron_key}"
    assert username not in stored and "wrong-password" not in stored
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()


def test_deactivated_staff_cannot_sign_in(client: Any, librarian: Any) -> None:
    librarian.is_active = False
    librarian.save()
    response = client.post("/accounts/login/", {"username": "li.na", "password": PASSWORD})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_sign_out_is_a_post_and_is_audited(client: Any, librarian: Any) -> None:
    client.post("/accounts/login/", {"username": "li.na", "password": PASSWORD})
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    event = AuditEvent.objects.get(action=AuditAction.LOGOUT)
    assert event.actor_id == librarian.pk
    assert event.ip == "10.1.1.1"
    assert client.get("/").status_code == 302


def test_signing_out_without_a_session_records_nothing(client: Any, db: Any) -> None:
    client.post("/accounts/logout/")
    assert not AuditEvent.objects.filter(action=AuditAction.LOGOUT).exists()


def test_signed_in_staff_skip_the_sign_in_page(client: Any, librarian: Any) -> None:
    sign_in_fully(client, librarian)
    response = client.get("/accounts/login/")
    assert response.status_code == 302
    assert response["Location"] == "/"
