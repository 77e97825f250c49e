"""Throttling and lockout of staff sign-in, per account and per client address, answering the
same whether or not the account exists."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.models import LoginAttempt
from libcrm.staff.tests.test_sign_in import PASSWORD, code, enrol

SIGN_IN_FAILED = "Sign-in failed or is temporarily blocked"


@pytest.fixture(autouse=True)
def limits(settings: Any) -> Any:
    settings.LIBCRM_LOGIN_MAX_FAILURES_ACCOUNT = 5
    settings.LIBCRM_LOGIN_MAX_FAILURES_ADDRESS = 20
    settings.LIBCRM_LOGIN_WINDOW_SECONDS = 900
    return settings


@pytest.fixture
def desk(make_staff: Callable[..., Any]) -> Any:
    return make_staff("front_desk", username="li.na")


WRONG = "wrong-password-1"


def attempt(username: str, password: str = WRONG, ip: str = "10.0.0.1") -> Any:
    return Client().post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def normalised(response: Any, username: str) -> str:
    """The page without what legitimately differs: the CSRF token and the name typed."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "", text)
    return text.replace(username, "USERNAME")


def test_five_failures_lock_an_account_with_the_same_answer_as_a_missing_one(desk: Any) -> None:
    existing, missing = [], []
    for _ in range(5):
        existing.append(attempt("li.na"))
        missing.append(attempt("nobody.here", ip="10.0.0.2"))
    locked = attempt("li.na", PASSWORD, ip="10.0.0.3")  # the right password, too late
    locked_missing = attempt("nobody.here", PASSWORD, ip="10.0.0.4")
    assert locked.status_code == locked_missing.status_code == 200
    assert SIGN_IN_FAILED in locked.text
    assert normalised(locked, "li.na") == normalised(locked_missing, "nobody.here")
    for mine, theirs in zip(existing, missing, strict=True):
        assert mine.status_code == theirs.status_code == 200
        assert normalised(mine, "li.na") == normalised(theirs, "nobody.here")
    assert "_auth_user_id" not in locked.client.session
    lockouts = AuditEvent.objects.filter(action=AuditAction.LOCKOUT)
    assert lockouts.count() == 2  # once for each name, when the fifth failure came
    assert {e.detail["scope"] for e in lockouts} == {"account"}
    assert all("li.na" not in str(e.detail) and "nobody" not in str(e.detail) for e in lockouts)


def test_the_username_is_matched_without_case(desk: Any) -> None:
    for _ in range(5):
        attempt("LI.NA")
    assert SIGN_IN_FAILED in attempt("li.na", PASSWORD).text
    assert not LoginAttempt.objects.filter(account__icontains="li.na").exists()


def test_an_address_is_blocked_after_failures_across_accounts(
    limits: Any, desk: Any, make_staff: Callable[..., Any]
) -> None:
    limits.LIBCRM_LOGIN_MAX_FAILURES_ADDRESS = 3
    for name in ["a.one", "b.two", "c.three"]:
        attempt(name, ip="10.66.0.1")
    blocked = attempt("li.na", PASSWORD, ip="10.66.0.1")
    assert SIGN_IN_FAILED in blocked.text
    assert "_auth_user_id" not in blocked.client.session
    elsewhere = attempt("li.na", PASSWORD, ip="10.66.0.2")
    assert elsewhere.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.LOCKOUT)
    assert event.detail["scope"] == "address" and event.ip == "10.66.0.1"


def test_a_lockout_ends_when_the_window_has_passed(limits: Any, desk: Any) -> None:
    limits.LIBCRM_LOGIN_WINDOW_SECONDS = 60
    for _ in range(5):
        attempt("li.na")
    assert attempt("li.na", PASSWORD).status_code == 200
    LoginAttempt.objects.update(at=timezone.now() - timedelta(seconds=61))
    assert attempt("li.na", PASSWORD).status_code == 302


def test_a_successful_sign_in_starts_the_count_again(
    make_staff: Callable[..., Any],
) -> None:
    make_staff("analyst", username="zhou.min")
    for _ in range(4):
        attempt("zhou.min")
    assert attempt("zhou.min", PASSWORD).status_code == 302
    for _ in range(4):
        attempt("zhou.min")
    assert attempt("zhou.min", PASSWORD).status_code == 302


def test_wrong_codes_count_towards_the_lockout(desk: Any) -> None:
    secret, _codes = enrol(desk)
    client = Client()
    client.post("/accounts/login/", {"username": "li.na", "password": PASSWORD})
    wrong = f"{(int(code(secret, 1)) + 7) % 1_000_000:06d}"
    for _ in range(5):
        assert client.post("/accounts/mfa/", {"code": wrong}).status_code == 200
    refused = client.post("/accounts/mfa/", {"code": pyotp.TOTP(secret).now()})
    assert refused.status_code == 200
    assert client.get("/patrons/").status_code == 302
    assert SIGN_IN_FAILED in attempt("li.na", PASSWORD).text
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED).count() == 5
    assert AuditEvent.objects.get(action=AuditAction.LOCKOUT).detail["step"] == "second_factor"


def test_the_password_step_alone_never_resets_the_code_count(desk: Any) -> None:
    """Knowing the password must not buy unlimited guesses at the code."""
    secret, _codes = enrol(desk)
    wrong = f"{(int(code(secret, 1)) + 7) % 1_000_000:06d}"
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "li.na", "password": PASSWORD})
        client.post("/accounts/mfa/", {"code": wrong})
    assert SIGN_IN_FAILED in attempt("li.na", PASSWORD).text
