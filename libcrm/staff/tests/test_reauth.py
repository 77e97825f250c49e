"""Re-authentication before dangerous acts: a stale session confirms password and code, and
comes back to where it was."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.reauth import SESSION_KEY
from libcrm.staff.tests.test_sign_in import PASSWORD, code, enrol


def make_stale(client: Any) -> None:
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()


@pytest.fixture
def admin(staff_client: Callable[[str], Any]) -> Any:
    client = staff_client("administrator")
    client.secret, _codes = enrol(client.user)
    make_stale(client)
    return client


def test_a_stale_session_confirms_and_returns(admin: Any) -> None:
    response = admin.get("/staff/new/")
    assert response["Location"] == "/accounts/reauth/?next=%2Fstaff%2Fnew%2F"
    page = admin.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert 'name="password"' in page.text and 'name="code"' in page.text
    back = admin.post(
        "/accounts/reauth/",
        {"password": PASSWORD, "code": code(admin.secret, 1), "next": "/staff/new/"},
        REMOTE_ADDR="10.3.3.3",
    )
    assert back["Location"] == "/staff/new/"
    assert admin.get("/staff/new/").status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.REAUTHENTICATE)
    assert event.actor_id == admin.user.pk and event.ip == "10.3.3.3"


def test_a_wrong_password_or_code_changes_nothing(admin: Any) -> None:
    wrong_password = admin.post(
        "/accounts/reauth/",
        {"password": "not-it-at-all", "code": code(admin.secret, 1), "next": "/staff/new/"},
    )
    assert wrong_password.status_code == 200
    assert admin.get("/staff/new/").status_code == 302
    wrong_code = admin.post(
        "/accounts/reauth/", {"password": PASSWORD, "code": "000000", "next": "/staff/new/"}
    )
    assert wrong_code.status_code == 200
    assert admin.get("/staff/new/").status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.REAUTHENTICATE).exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_a_foreign_next_is_not_followed(admin: Any) -> None:
    response = admin.post(
        "/accounts/reauth/",
        {"password": PASSWORD, "code": code(admin.secret, 1), "next": "https://evil.example/x"},
    )
    assert response["Location"] == "/"


def test_a_post_button_returns_to_its_page(admin: Any, make_staff: Callable[..., Any]) -> None:
    desk = make_staff("front_desk")
    response = admin.post(
        f"/staff/{desk.pk}/active/", {"active": "0"}, HTTP_REFERER="http://testserver/staff/"
    )
    assert response["Location"] == "/accounts/reauth/?next=%2Fstaff%2F"
    desk.refresh_from_db()
    assert desk.is_active
    foreign = admin.post(
        f"/staff/{desk.pk}/active/", {"active": "0"}, HTTP_REFERER="https://evil.example/staff/"
    )
    assert foreign["Location"] == f"/accounts/reauth/?next=%2Fstaff%2F{desk.pk}%2Factive%2F"


def test_without_a_second_factor_the_password_is_enough(
    staff_client: Callable[[str], Any],
) -> None:
    analyst = staff_client("analyst")
    make_stale(analyst)
    page = analyst.get("/accounts/reauth/")
    assert 'name="code"' not in page.text
    response = analyst.post("/accounts/reauth/", {"password": PASSWORD, "next": "/"})
    assert response["Location"] == "/"
    assert AuditEvent.objects.filter(action=AuditAction.REAUTHENTICATE).count() == 1
