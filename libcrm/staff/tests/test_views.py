"""Staff management: administrators create accounts, assign roles, deactivate and reactivate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.roles import Role, role_of

NEW = {
    "username": "wang.fang",
    "display_name": "王芳",
    "email": "wang.fang@lib.example.edu.cn",
    "role": "subject_liaison",
    "password1": "quiet-reading-room-7",
    "password2": "quiet-reading-room-7",
}


@pytest.fixture
def admin(staff_client: Callable[[str], Any]) -> Any:
    return staff_client("administrator")


def test_the_list_shows_every_account(admin: Any, make_staff: Callable[..., Any]) -> None:
    desk = make_staff("front_desk", username="zhao.lei")
    Client().post("/accounts/login/", {"username": "zhao.lei", "password": "correct-horse-42"})
    page = admin.get("/staff/", HTTP_ACCEPT_LANGUAGE="en").text
    for text in ["zhao.lei", "Zhao.Lei", "Front desk", "Active"]:
        assert text in page
    desk.refresh_from_db()
    assert desk.last_login is not None
    assert desk.last_login.strftime("%Y-%m-") in page


def test_create_a_staff_member(admin: Any) -> None:
    response = admin.post("/staff/new/", NEW)
    assert response.status_code == 302
    member = get_user_model().objects.get(username="wang.fang")
    assert role_of(member) == Role.SUBJECT_LIAISON
    assert member.staff_profile.display_name == "王芳"
    assert member.check_password("quiet-reading-room-7")
    event = AuditEvent.objects.get(action=AuditAction.CREATE_STAFF, target=f"staff:{member.pk}")
    assert event.actor_id == admin.user.pk
    assert "quiet-reading-room-7" not in str(event.detail)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "ZHAO.LEI"}, "username", "already taken"),
        ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password2": "something-else-9"}, "password2", "differ"),
        ({"role": "librarian"}, "role", "valid choice"),
    ],
)
def test_a_refused_account_is_explained_and_not_created(
    admin: Any, make_staff: Callable[..., Any], changes: dict[str, str], field: str, message: str
) -> None:
    make_staff("front_desk", username="zhao.lei")
    count = get_user_model().objects.count()
    response = admin.post("/staff/new/", {**NEW, **changes}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field]).lower()
    assert get_user_model().objects.count() == count


def test_change_a_role(admin: Any, make_staff: Callable[..., Any]) -> None:
    member = make_staff("front_desk")
    response = admin.post(
        f"/staff/{member.pk}/role/",
        {"role": "user_relations"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert role_of(member) == Role.USER_RELATIONS
    assert "is now: User-relations office" in response.text
    assert AuditEvent.objects.filter(
        action=AuditAction.CHANGE_STAFF, detail__role="user_relations"
    ).exists()


def test_an_administrator_cannot_change_their_own_role(admin: Any) -> None:
    response = admin.post(
        f"/staff/{admin.user.pk}/role/", {"role": "analyst"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert role_of(admin.user) == Role.ADMINISTRATOR
    assert "cannot change your own role" in response.text


def test_an_unknown_role_is_refused(admin: Any, make_staff: Callable[..., Any]) -> None:
    member = make_staff("front_desk")
    admin.post(f"/staff/{member.pk}/role/", {"role": "superuser"})
    assert role_of(member) == Role.FRONT_DESK


def test_deactivate_and_reactivate(admin: Any, make_staff: Callable[..., Any]) -> None:
    member = make_staff("front_desk", username="zhao.lei")
    admin.post(f"/staff/{member.pk}/active/", {"active": "0"})
    member.refresh_from_db()
    assert not member.is_active
    colleague = Client()
    colleague.post("/accounts/login/", {"username": "zhao.lei", "password": "correct-horse-42"})
    assert "_auth_user_id" not in colleague.session

    admin.post(f"/staff/{member.pk}/active/", {"active": "1"})
    member.refresh_from_db()
    assert member.is_active


def test_an_administrator_cannot_deactivate_themselves(admin: Any) -> None:
    response = admin.post(
        f"/staff/{admin.user.pk}/active/", {"active": "0"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    admin.user.refresh_from_db()
    assert admin.user.is_active
    assert "cannot deactivate your own account" in response.text.lower()


def test_an_unknown_account_is_not_found(admin: Any) -> None:
    assert admin.post("/staff/99999/active/", {"active": "0"}).status_code == 404


def test_changes_are_posts(admin: Any, make_staff: Callable[..., Any]) -> None:
    member = make_staff("front_desk")
    assert admin.get(f"/staff/{member.pk}/active/").status_code == 405
    assert admin.get(f"/staff/{member.pk}/role/").status_code == 405


def test_the_last_administrator_cannot_be_demoted_or_deactivated(db: Any) -> None:
    from libcrm.privacy.actors import Actor
    from libcrm.staff.services import (
        StaffError,
        change_staff_role,
        create_staff_member,
        set_staff_active,
    )

    system = Actor.system("test")
    only_admin = create_staff_member(
        system, username="sole-admin", password="quiet-reading-room-7", role="administrator"
    )
    with pytest.raises(StaffError, match="last active administrator"):
        change_staff_role(system, only_admin, "analyst")
    with pytest.raises(StaffError, match="last active administrator"):
        set_staff_active(system, only_admin, False)
    create_staff_member(
        system, username="second-admin", password="quiet-reading-room-7", role="administrator"
    )
    change_staff_role(system, only_admin, "analyst")
    assert not only_admin.groups.filter(name="administrator").exists()
