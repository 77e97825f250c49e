"""The audit trail browser: administrators find who did what, to whom, when and from where."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import record_audit_event


@pytest.fixture
def admin(staff_client: Callable[[str], Any]) -> Any:
    return staff_client("administrator")


@pytest.fixture
def trail(make_patron: Callable[..., Any]) -> dict[str, Any]:
    patron = make_patron(name="张伟")
    desk = Actor(label="wang.fang", via="console", ip="10.0.0.7")
    record_audit_event(desk, AuditAction.VIEW_PATRON, patron=patron, target=f"patron:{patron.uuid}")
    record_audit_event(
        desk,
        AuditAction.UPDATE_PATRON,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"fields": ["name", "notes"]},
    )
    old = record_audit_event(
        Actor(label="token:koha", via="api", ip="10.0.0.8"),
        AuditAction.SEARCH_PATRONS,
        detail={"results": 3},
    )
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    return {"patron": patron}


def events(response: Any) -> list[AuditEvent]:
    return list(response.context["page"].object_list)


def test_the_trail_shows_who_what_when_where_and_detail(admin: Any, trail: dict[str, Any]) -> None:
    response = admin.get("/audit/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.text
    patron = trail["patron"]
    for text in [
        "wang.fang",
        "Changed a patron",
        "10.0.0.7",
        "name, notes",
        patron.patron_key,
        f"/patrons/{patron.uuid}/",
        "token:koha",
    ]:
        assert text in page, text
    assert "张伟" not in page  # the trail names patrons by key, never by name
    newest_first = [e.at for e in events(response)]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "update_patron"}, {"update_patron"}),
        ({"actor": "WANG"}, {"view_patron", "update_patron"}),
        ({"actor": "koha"}, {"search_patrons"}),
    ],
)
def test_filters(
    admin: Any, trail: dict[str, Any], query: dict[str, str], expected: set[str]
) -> None:
    assert {e.action for e in events(admin.get("/audit/", query))} == expected


def test_filter_by_patron_key(admin: Any, trail: dict[str, Any]) -> None:
    key = trail["patron"].patron_key
    found = events(admin.get("/audit/", {"patron_key": key}))
    assert {e.action for e in found} == {"create_patron", "view_patron", "update_patron"}
    assert all(e.patron_key == key for e in found)


def test_filter_by_date_range(admin: Any, trail: dict[str, Any]) -> None:
    today = timezone.localdate()
    recent = events(admin.get("/audit/", {"since": today.isoformat()}))
    assert "search_patrons" not in {e.action for e in recent}
    month_ago = (today - timedelta(days=40)).isoformat()
    old = events(admin.get("/audit/", {"since": month_ago, "until": month_ago}))
    assert [e.action for e in old] == ["search_patrons"]


def test_a_backwards_date_range_is_explained(admin: Any, trail: dict[str, Any]) -> None:
    response = admin.get(
        "/audit/", {"since": "2025-05-02", "until": "2025-05-01"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "The end date is before the start date." in response.text


def test_the_trail_is_paginated_by_50(admin: Any, db: Any) -> None:
    actor = Actor.system("bulk")
    for _ in range(60):
        record_audit_event(actor, AuditAction.SEARCH_PATRONS)
    assert len(events(admin.get("/audit/"))) == 50
    assert len(events(admin.get("/audit/", {"page": 2}))) > 0


def test_the_trail_does_not_query_per_record(
    admin: Any, make_patron: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    for _ in range(20):
        make_patron()
    with django_assert_max_num_queries(10):
        admin.get("/audit/")


def test_only_administrators_browse_the_trail(staff_client: Callable[[str], Any], db: Any) -> None:
    assert staff_client("user_relations").get("/audit/").status_code == 403


def test_a_datetime_is_shown_in_local_time(admin: Any, settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    event = record_audit_event(Actor.system("clock"), AuditAction.ROTATE_KEYS)
    four_utc = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)  # noon in Asia/Shanghai
    AuditEvent.objects.filter(pk=event.pk).update(at=four_utc)
    assert "2025-03-01 12:00:00" in admin.get("/audit/", {"actor": "clock"}).text


def test_the_filtered_view_exports_as_csv(admin: Any, trail: dict[str, Any]) -> None:
    import csv
    import io

    response = admin.get("/audit/export.csv", {"actor": "wang"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["action"] for r in rows] == ["view_patron", "update_patron"]
    assert rows[1]["detail"] == '{"fields": ["name", "notes"]}'
    assert rows[0]["patron_key"] == trail["patron"].patron_key
    assert "张伟" not in body
    exported = AuditEvent.objects.filter(action=AuditAction.EXPORT).get()
    assert exported.target == "audit.csv" and exported.detail == {"filters": ["actor"], "rows": 2}


def test_only_administrators_export_the_trail(staff_client: Callable[[str], Any], db: Any) -> None:
    assert staff_client("front_desk").get("/audit/export.csv").status_code == 403


def test_filter_up_to_a_record_number(admin: Any, trail: dict[str, Any]) -> None:
    second = AuditEvent.objects.order_by("seq")[1]
    found = events(admin.get("/audit/", {"upto": second.seq}))
    assert sorted(e.seq for e in found) == [second.seq - 1, second.seq]
