"""Interaction pages: the patron's timeline and activity, the store overview, the ingestion
history and importing a file — on a real event store written through ``EventStore.append``."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from libcrm.catalog.models import Item
from libcrm.events import services as event_services
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import audit_append_queries
from libcrm.staff.roles import Role
from libcrm.staff.testing import sign_in_fully

_ids = itertools.count(1)
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def store_dir(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """A fresh event store and upload folder per test, the library in Shanghai, k = 5."""
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.LIBCRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.LIBCRM_MIN_GROUP_SIZE = 5
    yield tmp_path / "events"
    store = event_services._stores.pop((tmp_path / "events").resolve(), None)
    if store is not None:
        with contextlib.suppress(Exception):
            store.close()


def event(
    patron: Any, at: datetime, type: str = "loan", channel: str = "physical", **more: Any
) -> dict[str, Any]:
    return {
        "event_id": f"t{next(_ids)}",
        "patron_key": patron if isinstance(patron, str) else patron.patron_key,
        "occurred_at": at,
        "type": type,
        "channel": channel,
        "source": "test",
        **more,
    }


def append(rows: list[dict[str, Any]]) -> None:
    report = event_services.append_events(rows, source="test")
    assert report.added == len(rows), report.rejects


@pytest.fixture
def patron(make_patron: Callable[..., Any]) -> Any:
    return make_patron(name="林晓", category="undergraduate")


def page_of(client: Any, patron: Any, **params: str) -> Any:
    response = client.get(f"/patrons/{patron.uuid}/", params)
    assert response.status_code == 200
    return response


# --- the timeline ----------------------------------------------------------------------------


def test_the_timeline_lists_the_patrons_events_newest_first(
    staff_client: Callable[[str], Any], patron: Any, make_patron: Callable[..., Any]
) -> None:
    other = make_patron()
    append(
        [
            event(patron, NOW - timedelta(days=3), "loan"),
            event(patron, NOW - timedelta(days=1), "gate_in"),
            event(patron, NOW - timedelta(days=2), "eresource_access", "web"),
            event(other, NOW - timedelta(hours=1), "download", "web"),
        ]
    )
    response = page_of(staff_client("front_desk"), patron)
    rows = response.context["timeline"].rows
    assert [r.type for r in rows] == ["gate_in", "eresource_access", "loan"]
    table = response.content.decode().split('class="list compact events"')[1]
    assert table.index("Entered the library") < table.index("E-resource access")
    assert table.index("E-resource access") < table.index("Loan")
    assert "Download" not in table


def test_times_are_shown_in_the_librarys_time_zone(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append([event(patron, datetime(2025, 3, 3, 23, 30, tzinfo=UTC))])  # Tue 07:30 in Shanghai
    page = page_of(staff_client("front_desk"), patron).content.decode()
    assert "2025-03-04" in page and ">07:30</time>" in page


def test_filters_by_type_family_channel_and_channel_group(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append(
        [
            event(patron, NOW - timedelta(days=5), "loan", "physical"),
            event(patron, NOW - timedelta(days=4), "return", "kiosk"),
            event(patron, NOW - timedelta(days=3), "gate_in", "physical"),
            event(patron, NOW - timedelta(days=2), "social_interaction", "wechat"),
            event(patron, NOW - timedelta(days=1), "social_interaction", "weibo"),
        ]
    )
    client = staff_client("front_desk")

    def types(**params: str) -> list[str]:
        return [r.type for r in page_of(client, patron, **params).context["timeline"].rows]

    assert types(type="loan") == ["loan"]
    assert types(type="family:circulation") == ["return", "loan"]
    assert types(channel="weibo") == ["social_interaction"]
    assert types(channel="group:social") == ["social_interaction"] * 2
    assert types(channel="group:physical", type="gate_in") == ["gate_in"]
    assert types(type="no-such-type") == types()  # an unknown filter is ignored, not an error
    assert types(type="circulation") == types()  # a family needs its prefix
    page = page_of(client, patron, type="return").content.decode()
    assert '<option value="return" selected>' in page


def test_paging_with_the_older_cursor_with_and_without_htmx(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    start = NOW - timedelta(days=200)
    append([event(patron, start + timedelta(hours=i)) for i in range(120)])
    client = staff_client("front_desk")
    first = page_of(client, patron).context["timeline"]
    assert len(first.rows) == 50 and first.older
    assert first.rows[0].occurred_at > first.rows[-1].occurred_at

    second = page_of(client, patron, before=first.older).context["timeline"]
    assert len(second.rows) == 50
    assert second.rows[0].occurred_at < first.rows[-1].occurred_at

    fragment = client.get(
        f"/patrons/{patron.uuid}/timeline/", {"before": second.older}, HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200
    third = fragment.context["timeline"]
    assert len(third.rows) == 20 and third.older is None
    assert third.rows[-1].occurred_at == start.replace(microsecond=start.microsecond)
    body = fragment.content.decode()
    assert body.lstrip().startswith("<section") and "<html" not in body
    assert "oldest recorded interaction" in body

    seen = {r.event_id for part in (first, second, third) for r in part.rows}
    assert len(seen) == 120


def test_a_fragment_address_opened_without_htmx_goes_to_the_patron_page(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    response = staff_client("front_desk").get(f"/patrons/{patron.uuid}/timeline/?type=loan")
    assert response.status_code == 302
    assert response["Location"] == f"/patrons/{patron.uuid}/?type=loan#timeline"


def test_a_broken_cursor_shows_the_newest_events(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append([event(patron, NOW - timedelta(days=1))])
    rows = (
        page_of(staff_client("front_desk"), patron, before="not-a-cursor").context["timeline"].rows
    )
    assert len(rows) == 1


def test_catalogue_titles_and_subject_classes_are_shown(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    Item.objects.create(
        item_id="ils:000123",
        source="ils",
        control_number="000123",
        record_format="marc21",
        title="红楼梦",
        material_type="text",
    )
    append(
        [
            event(patron, NOW - timedelta(days=2), item_id="ils:000123", subject="I242.4"),
            event(patron, NOW - timedelta(days=1), "download", "web", item_id="db:cnki"),
        ]
    )
    response = page_of(
        staff_client("front_desk"),
        patron,
    )
    rows = {r.item_id: r for r in response.context["timeline"].rows}
    assert rows["ils:000123"].item_title == "红楼梦"
    assert rows["db:cnki"].item_title == ""
    assert rows["ils:000123"].subject_class is not None
    page = response.content.decode()
    assert "红楼梦" in page and "db:cnki" in page and "I242.4" in page


def test_the_patron_page_makes_no_query_per_event(
    staff_client: Callable[[str], Any], patron: Any, django_assert_max_num_queries: Any
) -> None:
    client = staff_client("front_desk")

    def queries_with(n: int) -> int:
        rows = []
        for i in range(n):
            item_id = f"ils:{next(_ids):06d}"
            Item.objects.create(
                item_id=item_id,
                source="ils",
                control_number=item_id[4:],
                record_format="marc21",
                title=f"Title {i}",
                material_type="text",
            )
            at = NOW - timedelta(days=300 - i)
            subject = ["TP311", "I247", "O1", "F0"][i % 4]
            rows.append(event(patron, at, item_id=item_id, subject=subject, branch="main"))
        append(rows)
        with CaptureQueriesContext(connection) as captured:
            page_of(client, patron)
        return len(captured)

    few = queries_with(3)
    many = queries_with(60)
    assert many == few
    # the page's own reads, plus its two audit records (viewing the patron, the persona)
    with django_assert_max_num_queries(21 + 2 * audit_append_queries()):
        page_of(client, patron)


# --- activity: heatmap, channel mix, counts by type ------------------------------------------


def test_the_heatmap_counts_in_shanghai_time(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append(
        [
            # Monday 2025-03-03 17:30 UTC is Tuesday 01:30 in Shanghai.
            event(patron, datetime(2025, 3, 3, 17, 30, tzinfo=UTC)),
            event(patron, datetime(2025, 3, 10, 17, 5, tzinfo=UTC)),
            # Saturday 2025-03-08 06:00 UTC is Saturday 14:00 in Shanghai.
            event(patron, datetime(2025, 3, 8, 6, 0, tzinfo=UTC), "gate_in"),
            # Sunday 2025-03-09 16:00 UTC is Monday 00:00 in Shanghai.
            event(patron, datetime(2025, 3, 9, 16, 0, tzinfo=UTC), "gate_in"),
        ]
    )
    response = page_of(staff_client("front_desk"), patron, period="all")
    heatmap = response.context["activity"].heatmap
    counts = {(d, c.hour): c.count for d, row in enumerate(heatmap.rows) for c in row.cells}
    assert counts[(1, 1)] == 2  # Tuesday 01:00–02:00
    assert counts[(5, 14)] == 1  # Saturday 14:00–15:00
    assert counts[(0, 0)] == 1  # Monday 00:00–01:00
    assert sum(counts.values()) == 4
    assert heatmap.largest == 2
    tuesday = heatmap.rows[1].cells[1]
    assert tuesday.shade == 4 and heatmap.rows[5].cells[14].shade == 2
    page = response.content.decode()
    assert "Tuesday 01:00–02:00: 2 interactions" in page


def test_channel_mix_and_counts_by_type_over_30_90_and_365_days(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append(
        [
            event(patron, NOW - timedelta(days=10), "loan", "physical"),
            event(patron, NOW - timedelta(days=60), "loan", "physical"),
            event(patron, NOW - timedelta(days=200), "loan", "kiosk"),
            event(patron, NOW - timedelta(days=20), "web_visit", "web"),
            event(patron, NOW - timedelta(days=5), "social_interaction", "wechat"),
            event(patron, NOW - timedelta(days=500), "gate_in", "physical"),
        ]
    )
    activity = page_of(staff_client("front_desk"), patron).context["activity"]
    by_type = {row.code: row.counts for row in activity.by_type}
    assert by_type == {"loan": (1, 2, 3), "web_visit": (1, 1, 1), "social_interaction": (1, 1, 1)}
    assert activity.window_totals == (3, 4, 5)
    mix = {group.code: group.count for group in activity.channels}
    assert mix == {"physical": 3, "digital": 1, "social": 1}
    assert activity.total == 5  # the default period is the last 365 days

    everything = page_of(staff_client("front_desk"), patron, period="all").context["activity"]
    assert everything.total == 6


def test_the_activity_fragment_changes_the_period(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    append([event(patron, NOW - timedelta(days=10)), event(patron, NOW - timedelta(days=100))])
    response = staff_client("front_desk").get(
        f"/patrons/{patron.uuid}/activity/", {"period": "30"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.context["activity"].total == 1
    assert 'aria-current="true" class="current">Last 30 days' in response.content.decode()


def test_a_patron_without_events_gets_a_calm_empty_state(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    page = page_of(staff_client("front_desk"), patron).content.decode()
    assert "No interactions of this patron have been recorded yet." in page


# --- audit and permissions -------------------------------------------------------------------


def test_fragment_loads_are_audited_as_views_of_the_patron(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    client = staff_client("user_relations")
    client.get(f"/patrons/{patron.uuid}/timeline/", {"type": "loan"}, HTTP_HX_REQUEST="true")
    client.get(f"/patrons/{patron.uuid}/activity/", {"period": "90"}, HTTP_HX_REQUEST="true")
    views = AuditEvent.objects.filter(action=AuditAction.VIEW_PATRON, patron=patron)
    parts = sorted(v.detail.get("part") for v in views)
    assert parts == ["activity", "timeline"]
    timeline = views.get(detail__part="timeline")
    assert timeline.detail["filters"] == ["type"]
    assert timeline.actor_id == client.user.pk and timeline.patron_key == patron.patron_key


ROLES_WITH_STORE = {Role.ADMINISTRATOR, Role.USER_RELATIONS, Role.ANALYST}
ROLES_THAT_IMPORT = {Role.ADMINISTRATOR, Role.USER_RELATIONS}
READERS = set(Role) - {Role.ANALYST}


@pytest.mark.parametrize("role", list(Role))
def test_who_may_open_which_interaction_page(
    staff_client: Callable[[str], Any], patron: Any, role: Role
) -> None:
    client = staff_client(role)
    hx = {"HTTP_HX_REQUEST": "true"}
    expected = {
        f"/patrons/{patron.uuid}/timeline/": READERS,
        f"/patrons/{patron.uuid}/activity/": READERS,
        "/events/": ROLES_WITH_STORE,
        "/events/ingestions/": ROLES_WITH_STORE,
        "/events/upload/": ROLES_THAT_IMPORT,
    }
    for url, allowed in expected.items():
        status = client.get(url, **hx).status_code
        assert status == (200 if role in allowed else 403), (url, status)


def test_a_refused_page_is_audited(staff_client: Callable[[str], Any], patron: Any) -> None:
    client = staff_client("analyst")
    assert (
        client.get(f"/patrons/{patron.uuid}/timeline/", HTTP_HX_REQUEST="true").status_code == 403
    )
    assert client.get("/events/upload/").status_code == 403
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, actor_id=client.user.pk)
    assert {d.target for d in denied} == {
        "page:console:patron-timeline",
        "page:console:events-upload",
    }


def test_the_nav_shows_interaction_data_to_those_who_may_see_it(
    staff_client: Callable[[str], Any],
) -> None:
    assert 'href="/events/"' in staff_client("analyst").get("/").content.decode()
    assert 'href="/events/"' not in staff_client("front_desk").get("/").content.decode()


# --- the store overview ----------------------------------------------------------------------


@pytest.fixture
def population(make_patron: Callable[..., Any]) -> list[Any]:
    """Seven patrons with loans this month; two of them also used WeChat."""
    patrons = [make_patron() for _ in range(7)]
    rows = [event(p, NOW - timedelta(days=3, minutes=i)) for i, p in enumerate(patrons)]
    rows += [event(p, NOW - timedelta(days=2), "social_interaction", "wechat") for p in patrons[:2]]
    rows += [event(patrons[0], NOW - timedelta(days=400), "gate_in")]
    append(rows)
    return patrons


def test_the_overview_counts_events_and_hides_small_groups_of_patrons(
    staff_client: Callable[[str], Any], population: list[Any]
) -> None:
    response = staff_client("analyst").get("/events/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures.overview.total == 10
    assert figures.patrons.count == 7
    assert dict((days, cell.count) for days, cell in figures.active) == {30: 7, 365: 7}
    by_type = {row.key: row for row in figures.by_type}
    assert by_type["loan"].events == 7 and by_type["loan"].patrons.count == 7
    # Two patrons used WeChat: the count of events is shown, the count of patrons is not.
    assert by_type["social_interaction"].events == 2
    assert by_type["social_interaction"].patrons.hidden
    assert by_type["gate_in"].patrons.hidden
    months = {row.key: row for row in figures.months}
    assert len(months) >= 13  # quiet months between are filled in
    page = response.content.decode()
    assert '<span class="suppressed"' in page
    for patron in population:
        assert patron.patron_key not in page and patron.name not in page


def test_the_overview_of_an_empty_store(staff_client: Callable[[str], Any]) -> None:
    page = staff_client("user_relations").get("/events/").content.decode()
    assert "No interactions have been imported yet" in page
    assert 'href="/events/upload/"' in page


def test_the_analyst_is_not_offered_an_import(
    staff_client: Callable[[str], Any], population: list[Any]
) -> None:
    page = staff_client("analyst").get("/events/").content.decode()
    assert 'href="/events/upload/"' not in page
    assert 'href="/events/ingestions/"' in page


# --- importing a file ------------------------------------------------------------------------

CSV = (
    "时间,读者证号,类型,分馆\n"
    "2025-03-01 09:15,{card},loan,main\n"
    "2025-03-01 10:20,{card},return,main\n"
    "not a time,{card},loan,main\n"
    "2025-03-02 11:00,{card},borrowed,main\n"
)


def upload(client: Any, content: bytes, name: str = "loans.csv", source: str = "koha-main") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/events/upload/", {"source": source, "file": SimpleUploadedFile(name, content)}
    )


def upload_id(response: Any) -> str:
    match = re.search(r"/events/upload/([0-9a-f]{32})/", response["Location"])
    assert match, response["Location"]
    return match[1]


@pytest.fixture
def card(patron: Any) -> str:
    return patron.identifiers.get().value


def test_upload_then_map_then_preview(
    staff_client: Callable[[str], Any], card: str, settings: Any
) -> None:
    client = staff_client("user_relations")
    response = upload(client, CSV.format(card=card).encode())
    assert response.status_code == 302
    uid = upload_id(response)
    stored = list(Path(settings.LIBCRM_UPLOAD_DIR, uid).iterdir())
    assert {p.name for p in stored} == {"file", "upload.json"}
    assert (Path(settings.LIBCRM_UPLOAD_DIR, uid, "file", "loans.csv")).exists()
    assert (Path(settings.LIBCRM_UPLOAD_DIR, uid).stat().st_mode & 0o777) == 0o700

    mapping = client.get(f"/events/upload/{uid}/")
    assert mapping.status_code == 200
    form = mapping.context["form"]
    assert form.initial["occurred_at"] == "column:时间"
    assert form.initial["identifier_value"] == "column:读者证号"
    assert form.initial["type"] == "column:类型"
    assert "UTF-8" in mapping.content.decode()

    choices = {
        "occurred_at": "column:时间",
        "identifier_value": "column:读者证号",
        "identifier_kind": "fixed:library_card",
        "type": "column:类型",
        "channel": "fixed:physical",
        "branch": "column:分馆",
        "time_zone": "Asia/Shanghai",
    }
    response = client.post(f"/events/upload/{uid}/", choices)
    assert response.status_code == 302 and response["Location"].endswith("/preview/")

    preview = client.get(f"/events/upload/{uid}/preview/")
    assert preview.status_code == 200
    rows = {row.line: row for row in preview.context["preview"].rows}
    assert sorted(rows) == [2, 3, 4, 5]
    assert rows[2].ok and rows[3].ok
    assert rows[2].occurred_at == datetime(2025, 3, 1, 1, 15, tzinfo=UTC)  # 09:15 in Shanghai
    assert not rows[4].ok and "not a date and time" in rows[4].problems[0][1]
    assert not rows[5].ok and rows[5].problems[0][0] == "type"
    page = preview.content.decode()
    assert card not in page  # identifiers are masked
    assert page.count('class="bad"') == 2


def test_the_mapping_form_explains_what_is_missing(
    staff_client: Callable[[str], Any], card: str
) -> None:
    client = staff_client("user_relations")
    uid = upload_id(upload(client, CSV.format(card=card).encode()))
    response = client.post(
        f"/events/upload/{uid}/",
        {"occurred_at": "column:时间", "type": "column:类型", "branch": "column:类型"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "identifier_value" in errors and "channel" in errors
    assert "already feeds" in errors["branch"][0]


def test_a_gbk_file_is_detected_and_read(staff_client: Callable[[str], Any], card: str) -> None:
    client = staff_client("administrator")
    text = "时间,读者证号,类型,空间\n2025-03-01 09:15,{card},space_checkin,三楼自习区\n"
    uid = upload_id(upload(client, text.format(card=card).encode("gbk"), "gate.csv"))
    mapping = client.get(f"/events/upload/{uid}/")
    assert mapping.context["sample"].encoding == "gb18030"
    page = mapping.content.decode()
    assert "GBK / GB18030" in page and "三楼自习区" in page
    assert mapping.context["form"].initial["occurred_at"] == "column:时间"


def test_an_oversized_upload_is_refused_with_a_clear_message(
    staff_client: Callable[[str], Any], settings: Any
) -> None:
    settings.LIBCRM_UPLOAD_MAX_BYTES = 1000
    client = staff_client("user_relations")
    response = upload(client, b"a,b\n" + b"1,2\n" * 2000)
    assert response.status_code == 400
    message = response.context["form"].errors["file"][0]
    assert "8.0\xa0KB" in message and "1000\xa0bytes" in message
    assert not any(Path(settings.LIBCRM_UPLOAD_DIR).iterdir())


def test_an_upload_opens_only_for_the_one_who_made_it(
    staff_client: Callable[[str], Any], make_staff: Callable[..., Any], card: str, client: Any
) -> None:
    mine = staff_client("user_relations")
    uid = upload_id(upload(mine, CSV.format(card=card).encode()))
    sign_in_fully(client, make_staff("administrator"))
    assert client.get(f"/events/upload/{uid}/").status_code == 404
    assert client.get("/events/upload/../../etc/").status_code == 404


def test_discarding_an_upload_removes_its_file(
    staff_client: Callable[[str], Any], card: str, settings: Any
) -> None:
    client = staff_client("user_relations")
    uid = upload_id(upload(client, CSV.format(card=card).encode()))
    response = client.post(f"/events/upload/{uid}/discard/")
    assert response.status_code == 302
    assert not Path(settings.LIBCRM_UPLOAD_DIR, uid).exists()


def test_an_xlsx_workbook_is_mapped_and_previewed(
    staff_client: Callable[[str], Any], card: str, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Date", "Card", "Room"])
    sheet.append([datetime(2025, 5, 6, 14, 30), card, "研讨间 A"])
    sheet.append([datetime(2025, 5, 7, 9, 0), int("12345"), "研讨间 B"])
    book.save(tmp_path / "bookings.xlsx")
    client = staff_client("user_relations")
    uid = upload_id(upload(client, (tmp_path / "bookings.xlsx").read_bytes(), "bookings.xlsx"))
    mapping = client.get(f"/events/upload/{uid}/")
    assert mapping.context["sample"].format == "xlsx"
    assert mapping.context["sample"].headers == ["Date", "Card", "Room"]
    client.post(
        f"/events/upload/{uid}/",
        {
            "occurred_at": "column:Date",
            "identifier_value": "column:Card",
            "identifier_kind": "fixed:library_card",
            "type": "fixed:space_booking",
            "channel": "fixed:web",
            "space": "column:Room",
            "time_zone": "Asia/Shanghai",
        },
    )
    rows = client.get(f"/events/upload/{uid}/preview/").context["preview"].rows
    assert [r.line for r in rows] == [2, 3]
    assert all(r.ok for r in rows) and rows[0].space == "研讨间 A"
    assert rows[0].occurred_at == datetime(2025, 5, 6, 6, 30, tzinfo=UTC)


def test_an_uploaded_file_name_cannot_leave_its_folder(
    staff_client: Callable[[str], Any], card: str, settings: Any
) -> None:
    client = staff_client("user_relations")
    uid = upload_id(upload(client, CSV.format(card=card).encode(), "../../../evil.csv"))
    assert Path(settings.LIBCRM_UPLOAD_DIR, uid, "file", "evil.csv").exists()
    assert not Path(settings.LIBCRM_UPLOAD_DIR).parent.joinpath("evil.csv").exists()


# --- import, the run page and its reject report ------------------------------------------------

MAPPING = {
    "occurred_at": "column:时间",
    "identifier_value": "column:读者证号",
    "identifier_kind": "fixed:library_card",
    "type": "column:类型",
    "channel": "fixed:physical",
    "branch": "column:分馆",
    "time_zone": "Asia/Shanghai",
}


def imported(client: Any, content: bytes, name: str = "loans.csv") -> Any:
    """Upload, map, preview and import ``content``; the response of the run page."""
    uid = upload_id(upload(client, content, name))
    assert client.post(f"/events/upload/{uid}/", MAPPING).status_code == 302
    assert client.get(f"/events/upload/{uid}/preview/").status_code == 200
    response = client.post(f"/events/upload/{uid}/import/", follow=True)
    assert response.status_code == 200
    return response


def test_import_ends_on_the_run_page_with_counts_and_a_reject_report(
    staff_client: Callable[[str], Any], patron: Any, card: str, settings: Any
) -> None:
    client = staff_client("user_relations")
    text = CSV.format(card=card) + "2025-03-03 08:00,L99999999,loan,main\n"
    response = imported(client, text.encode())
    run = response.context["run"]
    assert (run.received, run.added, run.duplicates, run.rejected, run.provisional) == (
        5,
        3,
        0,
        2,
        1,
    )
    assert run.file_name == "loans.csv" and run.source == "koha-main"
    assert run.actor_id == client.user.pk
    page = response.content.decode()
    assert "The file has been imported." in page
    assert f'href="/events/ingestions/{run.pk}/rejects.csv"' in page
    assert not any(Path(settings.LIBCRM_UPLOAD_DIR).iterdir())  # the upload is gone

    # The events are the patron's now, on their timeline, in Shanghai time.
    rows = page_of(client, patron, period="all").context["timeline"].rows
    assert [(r.type, r.occurred_at) for r in rows] == [
        ("return", datetime(2025, 3, 1, 2, 20, tzinfo=UTC)),
        ("loan", datetime(2025, 3, 1, 1, 15, tzinfo=UTC)),
    ]

    download = client.get(f"/events/ingestions/{run.pk}/rejects.csv")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="loans-rejects-' in download["Content-Disposition"]
    report = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()
    assert report[0] == "file,line,field,reason"
    assert {line.split(",")[1] for line in report[1:]} == {"4", "5"}
    exports = AuditEvent.objects.filter(action=AuditAction.EXPORT, actor_id=client.user.pk)
    assert exports.count() == 1
    assert exports.get().target == f"ingestion:{run.pk}"
    assert exports.get().detail["export"] == "reject_report"
    assert AuditEvent.objects.filter(action=AuditAction.INGEST_EVENTS).count() == 1


def test_importing_the_same_file_again_adds_nothing(
    staff_client: Callable[[str], Any], card: str
) -> None:
    client = staff_client("administrator")
    content = CSV.format(card=card).encode()
    first = imported(client, content).context["run"]
    again = imported(client, content).context["run"]
    assert first.added == 2
    assert (again.added, again.duplicates) == (0, 2)


def test_the_history_lists_runs_and_the_analyst_sees_counts_but_no_report(
    staff_client: Callable[[str], Any], card: str
) -> None:
    run = imported(staff_client("user_relations"), CSV.format(card=card).encode()).context["run"]
    analyst = staff_client("analyst")
    history = analyst.get("/events/ingestions/").content.decode()
    assert f'href="/events/ingestions/{run.pk}/"' in history and "loans.csv" in history
    detail = analyst.get(f"/events/ingestions/{run.pk}/")
    assert detail.status_code == 200
    assert "rejects.csv" not in detail.content.decode()
    assert analyst.get(f"/events/ingestions/{run.pk}/rejects.csv").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
    overview = analyst.get("/events/").content.decode()
    assert f'href="/events/ingestions/{run.pk}/"' in overview  # the last ingestion


def test_unknown_runs_are_not_found(staff_client: Callable[[str], Any]) -> None:
    client = staff_client("administrator")
    assert client.get("/events/ingestions/not-a-uuid/").status_code == 404
    missing = "/events/ingestions/00000000-0000-0000-0000-000000000000/rejects.csv"
    assert client.get(missing).status_code == 404


def test_an_unreadable_store_leaves_the_pages_working(
    staff_client: Callable[[str], Any], patron: Any, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.LIBCRM_EVENT_STORE_DIR = blocker / "events"
    page = page_of(staff_client("user_relations"), patron).content.decode()
    assert patron.name in page
    assert "The interaction history cannot be read right now." in page
    overview = staff_client("analyst").get("/events/")
    assert overview.status_code == 200
    assert "The event store cannot be read right now" in overview.content.decode()


def test_the_upload_still_checks_the_csrf_token(
    make_staff: Callable[..., Any], settings: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    sign_in_fully(client, make_staff("user_relations"))
    client.cookies["csrftoken"] = "a" * 32
    response = client.post(
        "/events/upload/",
        {
            "csrfmiddlewaretoken": "b" * 32,
            "source": "x",
            "file": SimpleUploadedFile("a.csv", b"a,b\n1,2\n"),
        },
    )
    assert response.status_code == 403
    assert not Path(settings.LIBCRM_UPLOAD_DIR).exists() or not any(
        Path(settings.LIBCRM_UPLOAD_DIR).iterdir()
    )


def test_events_with_attributes_show_them_on_the_timeline(
    staff_client: Callable[[str], Any], patron: Any
) -> None:
    # Events from real sources carry a map of attributes (call number, platform…); the store
    # hands a map column back as (key, value) pairs.
    append(
        [
            event(
                patron,
                datetime(2026, 5, 4, 2, 0, tzinfo=UTC),
                "loan",
                attrs={"call_number": "TP312/42", "due": "2026-06-01"},
            )
        ]
    )
    body = page_of(staff_client("front_desk"), patron).content.decode()
    assert "TP312/42" in body
