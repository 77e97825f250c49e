"""Two-step staff sign-in (OWASP ASVS 5.0 L2): password, then a TOTP code from a real
authenticator secret or a recovery code; enrolment for every role that sees personal data."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from django.test import Client

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff import mfa
from libcrm.staff.models import RecoveryCode, TotpDevice
from libcrm.staff.roles import Role, roles_requiring_second_factor
from libcrm.staff.services import StaffError

PASSWORD = "correct-horse-42"


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now, or ``steps_ahead`` 30-second steps later."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrol(user: Any) -> tuple[str, list[str]]:
    """Set up a second factor the way the enrolment page does; returns secret and codes."""
    device = mfa.begin_enrolment(user)
    codes = mfa.confirm_enrolment(Actor.system("test"), user, code(device.secret))
    return device.secret, codes


def password_step(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(
        "/accounts/login/?next=/patrons/", {"username": username, "password": password}, **extra
    )


@pytest.fixture
def desk(make_staff: Callable[..., Any]) -> Any:
    return make_staff("front_desk", username="li.na")


def test_roles_that_see_personal_data_need_a_second_factor() -> None:
    assert roles_requiring_second_factor() == set(Role) - {Role.ANALYST}


def test_front_desk_enrols_at_first_sign_in_then_signs_in_with_a_code(
    client: Client, desk: Any
) -> None:
    response = password_step(client, "li.na")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/mfa/setup/?next=%2Fpatrons%2F"
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()
    assert client.get("/patrons/")["Location"].startswith("/accounts/mfa/setup/")

    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "<svg" in page.text and "Set up two-factor sign-in" in page.text
    secret = TotpDevice.objects.get(user=desk).secret
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page.text
    assert client.get("/accounts/mfa/setup/").context["secret"] == page.context["secret"]

    confirmed = client.post("/accounts/mfa/setup/", {"code": code(secret), "next": "/patrons/"})
    assert confirmed["Location"] == "/accounts/mfa/recovery-codes/?next=%2Fpatrons%2F"
    shown = client.get(confirmed["Location"])
    codes = shown.context["codes"]
    assert len(codes) == mfa.RECOVERY_CODE_COUNT and all(c in shown.text for c in codes)
    assert all(c not in RecoveryCode.objects.values_list("code_hash", flat=True) for c in codes)
    assert client.get(confirmed["Location"]).status_code == 302  # shown once only
    assert client.get("/patrons/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.MFA_ENROL, actor_id=desk.pk).count() == 1
    assert AuditEvent.objects.get(action=AuditAction.LOGIN).detail == {"second_factor": "totp"}

    client.post("/accounts/logout/")
    response = password_step(client, "li.na", REMOTE_ADDR="10.4.4.4")
    assert response["Location"] == "/accounts/mfa/?next=%2Fpatrons%2F"
    assert client.get("/patrons/")["Location"] == "/accounts/mfa/?next=%2Fpatrons%2F"
    done = client.post(
        "/accounts/mfa/", {"code": code(secret, 1), "next": "/patrons/"}, REMOTE_ADDR="10.4.4.4"
    )
    assert done["Location"] == "/patrons/"
    assert client.get("/patrons/").status_code == 200
    last = AuditEvent.objects.filter(action=AuditAction.LOGIN).latest("id")
    assert last.actor_id == desk.pk and last.ip == "10.4.4.4"


def test_half_signed_in_sessions_reach_only_the_sign_in_pages(client: Client, desk: Any) -> None:
    enrol(desk)
    password_step(client, "li.na")
    for page in ["/", "/patrons/", "/staff/exports/", "/accounts/security/", "/accounts/reauth/"]:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/accounts/mfa/?next="), page
    assert client.get("/accounts/mfa/").status_code == 200
    assert client.get("/api/v1/health").status_code == 200
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"


def test_a_code_is_accepted_once(desk: Any) -> None:
    secret, _codes = enrol(desk)
    first, second = Client(), Client()
    password_step(first, "li.na")
    password_step(second, "li.na")
    fresh = code(secret, 1)
    assert first.post("/accounts/mfa/", {"code": fresh})["Location"] == "/"
    replay = second.post("/accounts/mfa/", {"code": fresh})
    assert replay.status_code == 200
    assert replay.context["form"].non_field_errors()
    assert second.get("/patrons/").status_code == 302
    older = second.post("/accounts/mfa/", {"code": code(secret)})  # the enrolment step's code
    assert older.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, actor_id=desk.pk).count() == 2


def test_a_wrong_code_is_refused_and_audited(client: Client, desk: Any) -> None:
    secret, _codes = enrol(desk)
    password_step(client, "li.na", REMOTE_ADDR="10.7.7.7")
    wrong = f"{(int(code(secret, 1)) + 1) % 1_000_000:06d}"
    response = client.post(
        "/accounts/mfa/", {"code": wrong}, HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.7.7.7"
    )
    assert response.status_code == 200
    assert "That code was not accepted" in response.text
    event = AuditEvent.objects.get(action=AuditAction.MFA_FAILED)
    assert event.actor_id == desk.pk and event.ip == "10.7.7.7"
    assert wrong not in str(event.detail)
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()


def test_a_recovery_code_works_once(desk: Any) -> None:
    _secret, codes = enrol(desk)
    client = Client()
    password_step(client, "li.na")
    response = client.post("/accounts/mfa/", {"code": codes[3].upper()})
    assert response["Location"] == "/"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN).latest("id").detail == {
        "second_factor": "recovery_code"
    }
    assert mfa.unused_recovery_codes(desk) == mfa.RECOVERY_CODE_COUNT - 1
    again = Client()
    password_step(again, "li.na")
    assert again.post("/accounts/mfa/", {"code": codes[3]}).status_code == 200
    assert again.post("/accounts/mfa/", {"code": codes[4]})["Location"] == "/"


def test_an_analyst_signs_in_with_the_password_alone(
    client: Client, make_staff: Callable[..., Any]
) -> None:
    make_staff("analyst", username="zhou.min")
    response = client.post("/accounts/login/", {"username": "zhou.min", "password": PASSWORD})
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.get(action=AuditAction.LOGIN).detail == {
        "second_factor": "not_required"
    }


def test_an_analyst_who_enrolled_passes_the_code_step(make_staff: Callable[..., Any]) -> None:
    analyst = make_staff("analyst", username="zhou.min")
    secret, _codes = enrol(analyst)
    client = Client()
    response = client.post("/accounts/login/", {"username": "zhou.min", "password": PASSWORD})
    assert response["Location"] == "/accounts/mfa/?next=%2F"
    assert client.post("/accounts/mfa/", {"code": code(secret, 1)})["Location"] == "/"


def test_a_role_that_gains_personal_data_must_enrol(
    make_staff: Callable[..., Any], staff_client: Callable[[str], Any]
) -> None:
    analyst = make_staff("analyst", username="zhou.min")
    client = Client()
    client.post("/accounts/login/", {"username": "zhou.min", "password": PASSWORD})
    admin = staff_client("administrator")
    admin.post(f"/staff/{analyst.pk}/role/", {"role": "front_desk"})
    assert client.get("/patrons/")["Location"] == "/accounts/mfa/setup/?next=%2Fpatrons%2F"


def test_mfa_cannot_be_removed_while_the_role_requires_it(
    staff_client: Callable[[str], Any],
) -> None:
    client = staff_client("front_desk")
    enrol(client.user)
    response = client.post("/accounts/security/remove/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "cannot be removed" in response.text
    assert mfa.has_second_factor(client.user)
    with pytest.raises(StaffError):
        mfa.remove_own_second_factor(Actor.system("test"), client.user)
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_RESET).exists()


def test_an_analyst_may_remove_their_own(staff_client: Callable[[str], Any]) -> None:
    client = staff_client("analyst")
    enrol(client.user)
    client.post("/accounts/security/remove/")
    assert not mfa.has_second_factor(client.user)
    assert AuditEvent.objects.get(action=AuditAction.MFA_RESET).detail == {"by": "self"}


def test_new_recovery_codes_replace_the_old_ones(staff_client: Callable[[str], Any]) -> None:
    client = staff_client("front_desk")
    _secret, old = enrol(client.user)
    response = client.post("/accounts/security/recovery-codes/")
    new = client.get(response["Location"]).context["codes"]
    assert set(new).isdisjoint(old) and len(new) == mfa.RECOVERY_CODE_COUNT
    fresh = Client()
    password_step(fresh, client.user.get_username())
    assert fresh.post("/accounts/mfa/", {"code": old[0]}).status_code == 200
    assert fresh.post("/accounts/mfa/", {"code": new[0]})["Location"] == "/"


def test_an_administrator_resets_a_lost_phone(
    staff_client: Callable[[str], Any], desk: Any
) -> None:
    enrol(desk)
    admin = staff_client("administrator")
    assert "Reset" in admin.get("/staff/", HTTP_ACCEPT_LANGUAGE="en").text
    response = admin.post(f"/staff/{desk.pk}/mfa-reset/")
    assert response["Location"] == "/staff/"
    assert not TotpDevice.objects.filter(user=desk).exists()
    assert not RecoveryCode.objects.filter(user=desk).exists()
    event = AuditEvent.objects.get(action=AuditAction.MFA_RESET)
    assert event.actor_id == admin.user.pk and event.target == f"staff:{desk.pk}"
    client = Client()
    assert password_step(client, "li.na")["Location"].startswith("/accounts/mfa/setup/")


def test_resetting_needs_a_recent_proof_of_identity(
    staff_client: Callable[[str], Any], desk: Any
) -> None:
    enrol(desk)
    admin = staff_client("administrator")
    session = admin.session
    session["libcrm_authenticated_at"] = int(time.time()) - 3600
    session.save()
    response = admin.post(f"/staff/{desk.pk}/mfa-reset/", HTTP_REFERER="http://testserver/staff/")
    assert response["Location"] == "/accounts/reauth/?next=%2Fstaff%2F"
    assert TotpDevice.objects.filter(user=desk).exists()
    with pytest.raises(StaffError):  # nobody resets their own: it takes a second person
        mfa.reset_second_factor(Actor(label="li.na", via="console", user_id=desk.pk), desk)


def test_qr_code_is_drawn_locally() -> None:
    svg = mfa.qr_code_svg("otpauth://totp/libcrm:li.na?secret=JBSWY3DPEHPK3PXP&issuer=libcrm")
    assert svg.startswith("<svg") and "http" not in svg.split("xmlns")[0]


def test_signing_in_page_passes_its_token_to_the_code_step(client: Client, desk: Any) -> None:
    secret, _codes = enrol(desk)
    password_step(client, "li.na")
    page = client.get("/accounts/mfa/?next=/patrons/", HTTP_ACCEPT_LANGUAGE="en")
    assert re.search(r'name="next" value="/patrons/"', page.text)
    assert (
        client.post("/accounts/mfa/", {"code": code(secret, 1), "next": "https://evil.example/"})[
            "Location"
        ]
        == "/"
    )


def test_a_demo_account_signs_in_with_the_published_key(
    client: Client, desk: Any, capsys: Any
) -> None:
    from django.core.management import call_command

    mfa.enrol_demo_second_factor(Actor.system("demo"), desk)
    call_command("demo_code")
    printed = capsys.readouterr()
    assert mfa.DEMO_SECRET in printed.err
    assert password_step(client, "li.na")["Location"].startswith("/accounts/mfa/")
    shown = printed.out.strip()
    # A code stays valid one step after its own, so a turn of the clock in between is fine.
    assert client.post("/accounts/mfa/", {"code": shown})["Location"] == "/"


def test_deactivating_or_resetting_an_account_ends_its_open_sessions(
    make_staff: Any, client: Any
) -> None:
    from django.test import Client

    from libcrm.privacy.actors import Actor
    from libcrm.staff.mfa import reset_second_factor
    from libcrm.staff.services import set_staff_active
    from libcrm.staff.testing import sign_in_fully

    admin = make_staff("administrator")
    for change in (
        lambda user: reset_second_factor(Actor(label="admin", via="web", user_id=admin.pk), user),
        lambda user: set_staff_active(
            Actor(label="admin", via="web", user_id=admin.pk), user, False
        ),
    ):
        user = make_staff("front_desk")
        browser = Client()
        sign_in_fully(browser, user)
        assert browser.get("/patrons/").status_code == 200
        change(user)
        assert browser.get("/patrons/").status_code == 302  # back to the sign-in page
