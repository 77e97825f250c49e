"""The usage dashboard: distinct patrons per month, new and returning, channel mix and the
weekly rhythm, with small groups hidden on the page and in the exports alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events import services as event_services
from libcrm.events.tests.factories import patron_key
from libcrm.insight.selectors import usage
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)


def event(n: int, key: str, when: datetime, channel: str, kind: str = "gate_in") -> dict[str, Any]:
    return {
        "event_id": f"e{n}",
        "patron_key": key,
        "occurred_at": when,
        "type": kind,
        "channel": channel,
        "source": "test",
    }


@pytest.fixture
def store(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.TIME_ZONE = "Asia/Shanghai"
    rows = []
    n = 0
    # May: 8 patrons in person on Monday at 10:00 local (02:00 UTC); 3 of them were seen in
    # April already. June: 6 of them on WeChat, and 2 newcomers.
    for p in range(8):
        n += 1
        rows.append(event(n, patron_key(p), datetime(2026, 5, 4, 2, 5, tzinfo=UTC), "physical"))
    for p in range(3):
        n += 1
        rows.append(
            event(n, patron_key(p), datetime(2026, 4, 7, 3, 0, tzinfo=UTC), "web", "web_visit")
        )
    for p in range(6):
        n += 1
        rows.append(
            event(n, patron_key(p), datetime(2026, 6, 2, 12, 0, tzinfo=UTC), "wechat", "message_in")
        )
    for p in (20, 21):
        n += 1
        rows.append(
            event(n, patron_key(p), datetime(2026, 6, 3, 12, 0, tzinfo=UTC), "app", "app_visit")
        )
    event_services.append_events(rows, source="test")


def figures(cells: Any) -> list[int | None]:
    return [c.count for c in cells]


def test_months_new_returning_mix_and_rhythm(store: None) -> None:
    board = usage(3, today=TODAY, k=5)
    assert board.months == ["2026-04", "2026-05", "2026-06"]
    assert figures(board.active.cells) == [None, 8, 8]  # April's 3 patrons are hidden
    assert figures(board.new.cells) == [None, 5, None]  # 3 new in April, 5 in May, 2 in June
    assert figures(board.returning.cells) == [0, None, 6]
    may = board.mix[1]
    assert may.patrons["physical"].count == 8 and may.events["physical"] == 8
    june = board.mix[2]
    assert june.patrons["social"].count == 6
    assert june.patrons["digital"].hidden and june.events["digital"] is None
    monday_10 = board.heatmap[0][10]
    assert monday_10.count == 8  # Monday 10:00 in Shanghai
    assert board.heatmap[1][11].hidden  # April's Tuesday 11:00: 3 patrons


def test_the_page_and_the_exports_hide_the_same_cells(
    store: None, staff_client: Callable[[str], Any], settings: Any
) -> None:
    settings.LIBCRM_MIN_GROUP_SIZE = 5
    client = staff_client("analyst")
    page = client.get("/insight/?months=12")
    assert page.status_code == 200
    assert "&lt;5" in page.content.decode()
    exported = client.get("/insight/usage.csv?months=12")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    active = {r[1]: r[3] for r in rows if r[0] == "Active patrons" and r[3] != "0"}
    assert {m: active[m] for m in ("2026-04", "2026-05", "2026-06")} == {
        "2026-04": "fewer than 5",
        "2026-05": "8",
        "2026-06": "8",
    }
    assert not any(r[3] in {"1", "2", "3", "4"} for r in rows[1:])
    xlsx = client.get("/insight/usage.xlsx?months=12")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, target="insight:usage").count() == 2


def test_front_desk_cannot_open_the_dashboard(staff_client: Callable[[str], Any]) -> None:
    assert staff_client("front_desk").get("/insight/").status_code == 403


def test_segment_sizes_on_the_dashboard_hide_small_sizes(
    store: None, staff_client: Callable[[str], Any], actor: Any, settings: Any, tmp_path: Path
) -> None:
    from libcrm.segments.models import Segment, SegmentSnapshot, SegmentVersion

    client = staff_client("analyst")
    assert "No segment snapshot yet." in client.get("/insight/").content.decode()
    rule = {"field": "loans_events_365d", "op": ">=", "value": 1}
    for slug, sizes in (("readers", [12, 3, 15]), ("few", [2])):
        segment = Segment.objects.create(slug=slug, name_en=slug.title(), name_zh=slug)
        version = SegmentVersion.objects.create(segment=segment, number=1, rule=rule)
        for day, size in enumerate(sizes, start=1):
            SegmentSnapshot.objects.create(segment=segment, version=version, size=size,
                                           as_of=date(2026, 6, day), engine="duckdb",
                                           members_file=f"{slug}/{day}.parquet")  # fmt: skip
    settings.LIBCRM_MIN_GROUP_SIZE = 5
    page = client.get("/insight/").content.decode()
    section = page[page.index('id="segment-sizes"') :]
    readers = section[section.index("Readers") : section.index("</tr>", section.index("Readers"))]
    assert "2026-06-01: <strong>12" in readers and "2026-06-03: <strong>15" in readers
    assert "2026-06-02: <strong><span" in readers and "&lt;5" in readers  # 3 is hidden
    assert ">3\n" not in readers and ">2\n" not in section
