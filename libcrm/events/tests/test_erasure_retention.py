"""Erasure of a patron and retention by age and type: only affected files are rewritten, in one
atomic step, and the report says what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from libcrm.events import schema
from libcrm.events.store import EventStore, RetentionRule
from libcrm.events.tests.conftest import stored_rows
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture(params=["fresh", "compacted"])
def filled(request: pytest.FixtureRequest, store: EventStore) -> EventStore:
    for seed in range(3):
        store.append(event_rows(300, seed=70 + seed, patrons=10, days=150), source="test")
    if request.param == "compacted":
        store.compact()
    return store


def traces(root: Path, key: str) -> list[str]:
    """Where ``key`` can still be found under ``root``: raw bytes of every file (the manifest,
    Parquet footers and statistics are not compressed) and every value of every column of
    every Parquet file, live or not (data pages are compressed, so they are decoded)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if key.encode() in path.read_bytes():
            found.append(f"bytes of {path.name}")
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                if key in str(table.column(name).to_pylist()):
                    found.append(f"{name} of {path.name}")
    return found


def test_erasure_leaves_no_row_and_no_byte_of_the_patron(filled: EventStore) -> None:
    victim = patron_key(4)
    before = stored_rows(filled)
    theirs = pc.sum(pc.equal(before.column("patron_key"), victim)).as_py()
    assert theirs and traces(filled.root, victim)

    report = filled.erase_patron(victim)
    after = stored_rows(filled)
    assert report.rows_deleted == theirs
    assert after.num_rows == before.num_rows - theirs
    assert victim not in after.column("patron_key").to_pylist()
    assert filled.timeline(victim).events == []
    assert traces(filled.root, victim) == []  # no file, statistic or manifest entry
    assert report.files_rewritten
    others = before.filter(pc.not_equal(before.column("patron_key"), victim))
    assert sorted(others.column("event_id").to_pylist()) == sorted(
        after.column("event_id").to_pylist()
    )


def test_erasure_rewrites_only_the_files_that_held_the_patron(store: EventStore) -> None:
    store.append(event_rows(50, seed=74, patrons=1, days=25), source="test")  # patron 0, Jan
    later = event_rows(50, seed=75, patrons=3, start=datetime(2025, 3, 1, tzinfo=UTC), days=20)
    later = [r for r in later if r["patron_key"] != patron_key(0)]
    store.append(later, source="test")
    march = {e.path for e in store.manifest.files.values() if "month=03" in e.path}
    report = store.erase_patron(patron_key(0))
    assert report.partitions == ["year=2025/month=01"]
    assert march <= set(store.manifest.files)  # untouched
    assert not (store.root / "year=2025" / "month=01").exists()  # emptied, removed


def test_erasing_a_merged_person_erases_every_key_they_had(store: EventStore) -> None:
    old, new = patron_key(1), patron_key(2)
    store.append(event_rows(200, seed=76, patrons=4), source="test")
    store.rekey(old, new)
    store.erase_patron(new)
    keys = set(stored_rows(store).column("patron_key").to_pylist())
    assert old not in keys and new not in keys
    assert store.manifest.aliases == {}
    assert traces(store.root, old) == [] and traces(store.root, new) == []


def test_retention_deletes_old_loans_only(filled: EventStore) -> None:
    before = stored_rows(filled).to_pylist()
    rule = RetentionRule(older_than=timedelta(days=120), types=frozenset({"loan"}))
    cut = NOW - timedelta(days=120)
    doomed = {r["event_id"] for r in before if r["type"] == "loan" and r["occurred_at"] < cut}
    report = filled.apply_retention([rule], now=NOW)
    after = {r["event_id"] for r in stored_rows(filled).to_pylist()}
    assert report.rows_deleted == len(doomed) > 0
    assert after == {r["event_id"] for r in before} - doomed
    assert filled.apply_retention([rule], now=NOW).rows_deleted == 0  # nothing left to do


def test_retention_can_keep_events_for_statistics_under_the_anonymous_key(
    filled: EventStore,
) -> None:
    rule = RetentionRule(older_than=timedelta(days=150), action="anonymise")
    cut = NOW - timedelta(days=150)
    before = stored_rows(filled).to_pylist()
    old = {r["event_id"] for r in before if r["occurred_at"] < cut}
    report = filled.apply_retention([rule], now=NOW)
    rows = {r["event_id"]: r for r in stored_rows(filled).to_pylist()}
    assert report.rows_anonymised == len(old) > 0 and report.rows_deleted == 0
    assert len(rows) == len(before)
    assert {rows[i]["patron_key"] for i in old} == {schema.ANONYMOUS_PATRON_KEY}
    assert all(
        r["patron_key"] != schema.ANONYMOUS_PATRON_KEY for i, r in rows.items() if i not in old
    )
    for path in filled.files():  # compacted files stay sorted by patron
        if filled.manifest.files[path.relative_to(filled.root).as_posix()].sorted:
            keys = pq.read_table(path).column("patron_key").to_pylist()
            assert keys == sorted(keys)
    assert filled.apply_retention([rule], now=NOW).changed is False


def test_a_delete_rule_wins_over_an_anonymise_rule(store: EventStore) -> None:
    store.append(event_rows(100, seed=77, days=30), source="test")
    report = store.apply_retention(
        [RetentionRule(timedelta(days=1), action="anonymise"), RetentionRule(timedelta(days=1))],
        now=NOW,
    )
    assert report.rows_deleted == 100 and report.rows_anonymised == 0
    assert store.files() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"older_than": timedelta(0)}, "older_than must be positive"),
        ({"older_than": timedelta(days=1), "types": frozenset({"lunch"})}, "unknown event type"),
        ({"older_than": timedelta(days=1), "action": "shred"}, "action must be"),
    ],
)
def test_retention_rules_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetentionRule(**kwargs)  # type: ignore[arg-type]
