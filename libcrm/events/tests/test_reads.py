"""Reads: a patron's timeline, activity and heatmap; the store overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libcrm.events.store import EventStore, TimelineCursor
from libcrm.events.tests.conftest import stored_rows
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db
KEY = patron_key(2)


def expected_order(store: EventStore, key: str) -> list[str]:
    rows = [r for r in stored_rows(store).to_pylist() if r["patron_key"] == key]
    rows.sort(key=lambda r: (r["occurred_at"], r["event_id"]), reverse=True)
    return [r["event_id"] for r in rows]


@pytest.fixture(params=["fresh", "compacted"])
def filled(request: pytest.FixtureRequest, store: EventStore) -> EventStore:
    """The same events, as appended (unsorted files) and after compaction (sorted)."""
    for seed in range(3):
        store.append(event_rows(400, seed=60 + seed, patrons=8, days=100), source="test")
    if request.param == "compacted":
        store.compact()
    return store


def test_timeline_is_newest_first_and_limited(filled: EventStore) -> None:
    page = filled.timeline(KEY, limit=20)
    assert [e["event_id"] for e in page.events] == expected_order(filled, KEY)[:20]
    assert {e["patron_key"] for e in page.events} == {KEY}
    assert page.next_cursor == TimelineCursor(
        page.events[-1]["occurred_at"], page.events[-1]["event_id"]
    )


def test_paging_with_the_cursor_visits_every_event_once(filled: EventStore) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = filled.timeline(KEY, limit=37, before=cursor)
        seen += [e["event_id"] for e in page.events]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected_order(filled, KEY)


def test_events_at_the_same_microsecond_are_paged_by_id(store: EventStore) -> None:
    rows = event_rows(5, seed=64, patrons=1)
    for row in rows:
        row["occurred_at"] = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    store.append(rows, source="test")
    first = store.timeline(patron_key(0), limit=2)
    rest = store.timeline(patron_key(0), limit=10, before=first.next_cursor)
    ids = [e["event_id"] for e in first.events + rest.events]
    assert ids == sorted((r["event_id"] for r in rows), reverse=True)


def test_timeline_before_a_time_and_filtered_by_type_and_channel(filled: EventStore) -> None:
    cut = datetime(2025, 3, 1, tzinfo=UTC)
    page = filled.timeline(KEY, limit=1000, before=cut, types=["loan", "return"], channels=["web"])
    rows = [
        r
        for r in stored_rows(filled).to_pylist()
        if r["patron_key"] == KEY
        and r["occurred_at"] < cut
        and r["type"] in ("loan", "return")
        and r["channel"] == "web"
    ]
    assert sorted(e["event_id"] for e in page.events) == sorted(r["event_id"] for r in rows)
    assert page.events and page.next_cursor is None


def test_unknown_patron_has_an_empty_timeline(filled: EventStore) -> None:
    assert filled.timeline(patron_key(999)).events == []


def test_patron_activity_counts_in_the_library_time_zone(store: EventStore) -> None:
    key = patron_key(0)
    rows = [
        # 16:30 UTC on Sunday 5 January = 00:30 on Monday 6 January in Shanghai
        {"event_id": "a", "patron_key": key, "occurred_at": "2025-01-05T16:30:00Z",
         "type": "gate_in", "channel": "physical", "source": "gate"},
        {"event_id": "b", "patron_key": key, "occurred_at": "2025-01-31T20:00:00Z",
         "type": "loan", "channel": "physical", "source": "koha"},
        {"event_id": "c", "patron_key": key, "occurred_at": "2025-01-31T15:00:00Z",
         "type": "eresource_access", "channel": "web", "source": "ezproxy"},
    ]  # fmt: skip
    store.append(rows, source="test")
    activity = store.patron_activity(key, tz="Asia/Shanghai")
    assert activity.total == 3
    assert activity.by_type == {"gate_in": 1, "loan": 1, "eresource_access": 1}
    assert activity.by_family == {"visit": 1, "circulation": 1, "digital": 1}
    assert activity.by_channel == {"physical": 2, "web": 1}
    assert activity.by_month == {"2025-01": 2, "2025-02": 1}  # b is 04:00 on 1 February
    assert activity.heatmap[0][0] == 1  # Monday, 00h
    assert activity.heatmap[5][4] == 1  # Saturday 1 February, 04h
    assert activity.heatmap[4][23] == 1  # Friday 31 January, 23h
    assert sum(map(sum, activity.heatmap)) == 3
    utc = store.patron_activity(key, tz="UTC")
    assert utc.heatmap[6][16] == 1 and utc.by_month == {"2025-01": 3}
    since = store.patron_activity(key, tz="UTC", since=datetime(2025, 1, 31, tzinfo=UTC))
    assert since.total == 2


def test_overview_counts_by_month_type_channel_and_source(filled: EventStore) -> None:
    rows = stored_rows(filled).to_pylist()
    overview = filled.overview(tz="Asia/Shanghai")
    assert overview.total == len(rows) == sum(overview.by_month.values())
    assert sum(overview.by_type.values()) == sum(overview.by_source.values()) == len(rows)
    assert overview.by_source == {"test": len(rows)}
    loans = sum(1 for r in rows if r["type"] == "loan")
    assert overview.by_type["loan"] == loans
    shanghai = timedelta(hours=8)
    months = {(r["occurred_at"] + shanghai).strftime("%Y-%m") for r in rows}
    assert set(overview.by_month) == months
    assert overview.files == len(filled.files())


def test_relation_serves_analytics_with_merged_keys_resolved(filled: EventStore) -> None:
    filled.rekey(patron_key(1), patron_key(2))
    counts = dict(filled.relation().aggregate("patron_key, count(*) AS n").fetchall())
    assert patron_key(1) not in counts
    assert sum(counts.values()) == len(stored_rows(filled))


@pytest.mark.parametrize("bad", ["", "pk", "robert'); DROP TABLE events;--", "PK" + "a" * 24])
def test_reads_refuse_anything_but_a_patron_key(store: EventStore, bad: str) -> None:
    with pytest.raises(ValueError, match="patron_key"):
        store.timeline(bad)


def test_reads_refuse_an_unknown_time_zone(store: EventStore) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.overview(tz="Mars/Olympus")
