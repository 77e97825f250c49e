"""The role × page table: which staff role may open which console page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.roles import Role
from libcrm.staff.testing import sign_in_fully

ALL = set(Role)
READERS = ALL - {Role.ANALYST}
EDITORS = {Role.ADMINISTRATOR, Role.USER_RELATIONS, Role.FRONT_DESK}
ADMINS = {Role.ADMINISTRATOR}

PAGES: dict[str, tuple[str, set[Role]]] = {
    "overview": ("/", ALL),
    "patron list": ("/patrons/", READERS),
    "patron search": ("/patrons/?q=zhangwei", READERS),
    "patron page": ("/patrons/{uuid}/", READERS),
    "register patron": ("/patrons/new/", EDITORS),
    "edit patron": ("/patrons/{uuid}/edit/", EDITORS),
    "remove identifier": ("/patrons/{uuid}/identifiers/{identifier}/remove/", EDITORS),
    "audit trail": ("/audit/", ADMINS),
    "staff list": ("/staff/", ADMINS),
    "add staff": ("/staff/new/", ADMINS),
}

ACTIONS: dict[str, tuple[str, set[Role]]] = {
    "reveal": ("/patrons/{uuid}/identifiers/{identifier}/reveal/", EDITORS),
    "add identifier": ("/patrons/{uuid}/identifiers/", EDITORS),
    "verify identifier": ("/patrons/{uuid}/identifiers/{identifier}/verify/", EDITORS),
    "create household": ("/patrons/{uuid}/household/create/", EDITORS),
    "join household": ("/patrons/{uuid}/household/join/", EDITORS),
    "leave household": ("/patrons/{uuid}/household/leave/", EDITORS),
    "change staff role": ("/staff/{staff}/role/", ADMINS),
    "deactivate staff": ("/staff/{staff}/active/", ADMINS),
}


@pytest.fixture
def targets(make_patron: Callable[..., Any], make_staff: Callable[..., Any]) -> dict[str, Any]:
    patron = make_patron(name="张伟")
    return {
        "uuid": patron.uuid,
        "identifier": patron.identifiers.get().pk,
        "staff": make_staff("front_desk").pk,
    }


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", list(PAGES))
def test_who_may_open_which_page(
    staff_client: Callable[[str], Any], targets: dict[str, Any], role: Role, page: str
) -> None:
    url, allowed = PAGES[page]
    response = staff_client(role).get(url.format(**targets))
    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_who_may_change_what(
    staff_client: Callable[[str], Any], targets: dict[str, Any], role: Role, action: str
) -> None:
    url, allowed = ACTIONS[action]
    response = staff_client(role).post(url.format(**targets), {"role": "analyst"})
    if role in allowed:
        assert response.status_code in {200, 302}
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("page", list(PAGES))
def test_anonymous_visitors_are_asked_to_sign_in(
    client: Any, targets: dict[str, Any], page: str
) -> None:
    response = client.get(PAGES[page][0].format(**targets))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_refusal_is_a_styled_page_and_is_audited(
    staff_client: Callable[[str], Any], targets: dict[str, Any]
) -> None:
    client = staff_client("analyst")
    response = client.get(f"/patrons/{targets['uuid']}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "This page is not part of your role" in response.text
    assert "张伟" not in response.text
    event = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert event.actor_id == client.user.pk
    assert event.target == "page:console:patron-detail"
    assert event.detail == {"permissions": ["patrons.view_personal_data"]}
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW_PATRON).exists()


def test_an_unknown_patron_is_a_styled_404(staff_client: Callable[[str], Any], db: Any) -> None:
    response = staff_client("front_desk").get(
        "/patrons/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 404
    assert "We could not find that page" in response.text


def test_changes_need_a_csrf_token(make_staff: Callable[..., Any], targets: dict[str, Any]) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    sign_in_fully(client, make_staff("front_desk"))
    response = client.post(f"/patrons/{targets['uuid']}/household/leave/")
    assert response.status_code == 403
