"""Bulk exports of personal data under the two-person rule."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff import exports
from libcrm.staff.models import ExportRequest, ExportStatus
from libcrm.staff.services import StaffError
from libcrm.staff.testing import sign_in_fully


@pytest.fixture
def patrons(make_patron: Callable[..., Any]) -> list[Any]:
    return [
        make_patron(
            name="李娜",
            category="undergraduate",
            identifiers=[
                {"kind": "library_card", "value": "TC900001", "source": "test"},
                {"kind": "email", "value": "li.na@stu.example.edu.cn", "source": "test"},
                {"kind": "phone", "value": "13800138000", "source": "test"},
            ],
        ),
        make_patron(name="=HYPERLINK(1)", category="undergraduate"),
        make_patron(name="Wang Wei", category="faculty"),
    ]


def signed_in(make_staff: Callable[..., Any], role: str) -> Client:
    client = Client()
    client.user = make_staff(role)
    sign_in_fully(client, client.user)
    return client


def read_csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))


def test_ask_approve_download_once(patrons: list[Any], make_staff: Callable[..., Any]) -> None:
    desk = signed_in(make_staff, "front_desk")
    relations = signed_in(make_staff, "user_relations")
    form = desk.get("/staff/exports/new/?category=undergraduate", HTTP_ACCEPT_LANGUAGE="en")
    assert "Category: undergraduate" in form.text
    response = desk.post(
        "/staff/exports/new/", {"category": "undergraduate", "reason": "alumni mailing"}
    )
    assert response["Location"] == "/staff/exports/"
    export = ExportRequest.objects.get()
    assert export.parameters == {"category": "undergraduate"}
    assert export.status == ExportStatus.REQUESTED

    own = desk.post(f"/staff/exports/{export.pk}/download/", follow=True)
    assert "only an approved export" in own.text
    assert relations.post(f"/staff/exports/{export.pk}/approve/")["Location"] == "/staff/exports/"
    export.refresh_from_db()
    assert export.status == ExportStatus.APPROVED and export.decided_by == relations.user

    assert relations.post(f"/staff/exports/{export.pk}/download/", follow=True).status_code == 200
    download = desk.post(f"/staff/exports/{export.pk}/download/")
    assert download["Content-Type"].startswith("text/csv")
    rows = read_csv(download)
    assert len(rows) == 2
    li = next(r for r in rows if r["name"] == "李娜")
    assert li["email"] == "li.na@stu.example.edu.cn" and li["phone"] == "+8613800138000"
    assert li["library_card"] and "TC900001" not in li["library_card"]
    assert any(r["name"] == "'=HYPERLINK(1)" for r in rows)  # no formula reaches a spreadsheet
    assert "patron_key" not in rows[0]

    again = desk.post(f"/staff/exports/{export.pk}/download/", follow=True)
    assert not again.get("Content-Type", "").startswith("text/csv")
    export.refresh_from_db()
    assert export.status == ExportStatus.DOWNLOADED and export.row_count == 2
    audit = AuditEvent.objects.filter(target=f"export:{export.pk}").order_by("id")
    assert [(e.action, e.detail.get("stage") or e.detail.get("decision")) for e in audit] == [
        (AuditAction.EXPORT, "requested"),
        (AuditAction.APPROVE_EXPORT, "approved"),
        (AuditAction.EXPORT, "downloaded"),
    ]
    assert audit.last().detail["rows"] == 2
    assert all("李娜" not in str(e.detail) for e in audit)


def test_nobody_approves_their_own_request(
    patrons: list[Any], make_staff: Callable[..., Any]
) -> None:
    admin = signed_in(make_staff, "administrator")
    admin.post("/staff/exports/new/", {"reason": "stock-take"})
    export = ExportRequest.objects.get()
    response = admin.post(f"/staff/exports/{export.pk}/approve/", follow=True)
    assert "A second person must approve" in response.text
    export.refresh_from_db()
    assert export.status == ExportStatus.REQUESTED
    assert not AuditEvent.objects.filter(action=AuditAction.APPROVE_EXPORT).exists()


def test_only_approvers_decide(make_staff: Callable[..., Any]) -> None:
    requester = make_staff("user_relations")
    export = exports.request_export(
        Actor.system("test"), requester, kind="patron_list", parameters={}, reason="x"
    )
    desk = signed_in(make_staff, "front_desk")
    assert desk.post(f"/staff/exports/{export.pk}/approve/").status_code == 403
    with pytest.raises(StaffError):
        exports.approve_export(Actor.system("test"), desk.user, export.pk)
    relations = signed_in(make_staff, "user_relations")
    relations.post(f"/staff/exports/{export.pk}/reject/")
    export.refresh_from_db()
    assert export.status == ExportStatus.REJECTED
    with pytest.raises(StaffError):
        exports.download_export(Actor.system("test"), requester, export.pk)


def test_an_analyst_cannot_ask(make_staff: Callable[..., Any]) -> None:
    analyst = signed_in(make_staff, "analyst")
    assert analyst.post("/staff/exports/new/", {"reason": "curious"}).status_code == 403
    with pytest.raises(StaffError):
        exports.request_export(
            Actor.system("test"), analyst.user, kind="patron_list", parameters={}, reason="x"
        )
    assert not ExportRequest.objects.exists()


def test_an_approval_expires_after_a_day(
    patrons: list[Any], make_staff: Callable[..., Any]
) -> None:
    requester = make_staff("front_desk")
    approver = make_staff("administrator")
    export = exports.request_export(
        Actor.system("test"), requester, kind="patron_list", parameters={}, reason="x"
    )
    exports.approve_export(Actor.system("test"), approver, export.pk)
    ExportRequest.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(StaffError, match="expired"):
        exports.download_export(Actor.system("test"), requester, export.pk)
    exports.expire_exports()  # as the exports page does on every visit
    assert ExportRequest.objects.get().status == ExportStatus.EXPIRED


def test_the_search_text_is_kept_encrypted(
    patrons: list[Any], make_staff: Callable[..., Any]
) -> None:
    desk = signed_in(make_staff, "front_desk")
    listing = desk.post("/patrons/", {"q": "13800138000"})
    token = listing["Location"].split("s=")[1]
    desk.post("/staff/exports/new/", {"s": token, "reason": "one patron"})
    export = ExportRequest.objects.get()
    assert export.search_text == "13800138000" and export.parameters == {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_text FROM staff_exportrequest")
        assert "13800138000" not in cursor.fetchone()[0]
    approver = make_staff("administrator")
    exports.approve_export(Actor.system("test"), approver, export.pk)
    rows = read_csv(desk.post(f"/staff/exports/{export.pk}/download/"))
    assert [r["name"] for r in rows] == ["李娜"]


def test_downloading_needs_a_recent_proof_of_identity(
    patrons: list[Any], make_staff: Callable[..., Any]
) -> None:
    desk = signed_in(make_staff, "front_desk")
    export = exports.request_export(
        Actor.system("test"), desk.user, kind="patron_list", parameters={}, reason="x"
    )
    exports.approve_export(Actor.system("test"), make_staff("administrator"), export.pk)
    session = desk.session
    session["libcrm_authenticated_at"] = 0
    session.save()
    response = desk.post(
        f"/staff/exports/{export.pk}/download/", HTTP_REFERER="http://testserver/staff/exports/"
    )
    assert response["Location"] == "/accounts/reauth/?next=%2Fstaff%2Fexports%2F"
    assert ExportRequest.objects.get().status == ExportStatus.APPROVED


def test_the_patron_list_offers_the_export(make_staff: Callable[..., Any]) -> None:
    desk = signed_in(make_staff, "front_desk")
    page = desk.get("/patrons/?category=faculty", HTTP_ACCEPT_LANGUAGE="en")
    assert 'href="/staff/exports/new/?category=faculty"' in page.text
