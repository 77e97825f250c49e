"""Appending: rows land once, in month partitions, whatever is sent twice or half-broken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libcrm.events import schema
from libcrm.events.errors import EventSchemaError
from libcrm.events.models import EventBatch
from libcrm.events.store import BatchState, EventStore
from libcrm.events.tests.conftest import stored_ids, stored_rows
from libcrm.events.tests.factories import event_rows, event_table, patron_key

pytestmark = pytest.mark.django_db


def test_appended_rows_read_back_exactly_with_store_fields(store: EventStore) -> None:
    table = event_table(300, seed=2)
    report = store.append(table, source="test")
    assert (report.received, report.added, report.duplicates, report.rejected) == (300, 300, 0, 0)
    stored = stored_rows(store).sort_by("event_id")
    expected = table.sort_by("event_id")
    for name in schema.INPUT_SCHEMA.names:
        assert stored.column(name).to_pylist() == expected.column(name).to_pylist(), name
    assert set(stored.column("schema_version").to_pylist()) == {schema.SCHEMA_VERSION}
    assert set(stored.column("batch_id").to_pylist()) == {report.batches[0].batch_id}
    assert stored.column("ingested_at").null_count == 0


def test_files_are_zstd_parquet_in_hive_month_partitions(store: EventStore) -> None:
    store.append(event_table(200, seed=3, days=70), source="test")
    partitions = sorted({p.parent.relative_to(store.root).as_posix() for p in store.files()})
    assert partitions == ["year=2025/month=01", "year=2025/month=02", "year=2025/month=03"]
    meta = pq.read_metadata(store.files()[0])
    assert meta.row_group(0).column(0).compression == "ZSTD"
    months = duckdb.execute(
        "SELECT DISTINCT month(timezone('UTC', occurred_at)) = month AS same FROM "
        "read_parquet($glob, hive_partitioning = true)",
        {"glob": f"{store.root}/*/*/*.parquet"},
    ).fetchall()
    assert months == [(True,)]


def test_the_same_batch_twice_adds_nothing_and_skips_on_the_digest(store: EventStore) -> None:
    table = event_table(500, seed=4)
    first = store.append(table, source="test", batch_rows=200)
    again = store.append(table, source="test", batch_rows=200)
    assert first.added == 500
    assert again.added == 0 and again.duplicates == 500
    assert [b.state for b in again.batches] == [BatchState.SKIPPED] * 3
    assert len(stored_ids(store)) == 500
    states = sorted(EventBatch.objects.values_list("state", flat=True))
    assert states == ["committed"] * 3 + ["skipped"] * 3


def test_same_events_batched_differently_are_dropped_one_by_one(store: EventStore) -> None:
    rows = event_rows(500, seed=5)
    store.append(rows, source="test", batch_rows=200)
    again = store.append(list(reversed(rows)), source="test", batch_rows=150)
    assert again.added == 0 and again.duplicates == 500
    assert BatchState.SKIPPED not in {b.state for b in again.batches}
    assert len(stored_ids(store)) == 500


def test_duplicates_within_a_batch_keep_the_first(store: EventStore) -> None:
    rows = event_rows(10, seed=6)
    copy = dict(rows[3], type="return", channel="kiosk")
    report = store.append([*rows, copy, rows[5]], source="test")
    assert (report.added, report.duplicates) == (10, 2)
    kept = stored_rows(store).filter(pa.compute.equal(stored_rows(store)["event_id"], "e6-3"))
    assert kept.column("type").to_pylist() == [rows[3]["type"]]


def test_overlapping_batches_add_only_the_new_events(store: EventStore) -> None:
    rows = event_rows(150, seed=7)
    store.append(rows[:100], source="test")
    report = store.append(rows[50:], source="test")
    assert (report.added, report.duplicates) == (50, 50)
    assert stored_ids(store) == sorted(r["event_id"] for r in rows)


def test_input_is_streamed_in_ledger_batches_of_fixed_size(store: EventStore) -> None:
    table = event_table(1000, seed=8)
    batches = (b for b in table.to_batches(max_chunksize=70))  # a generator, read lazily
    report = store.append(batches, source="test", batch_rows=300)
    assert [b.received for b in report.batches] == [300, 300, 300, 100]
    assert report.added == 1000


def test_rejected_rows_are_reported_by_stream_index_and_good_rows_land(
    store: EventStore,
) -> None:
    rows = event_rows(10, seed=9)
    rows[2]["type"] = "teleport"
    rows[7]["patron_key"] = "not-a-key"
    report = store.append(rows, source="test", batch_rows=5)
    assert report.added == 8 and report.rejected == 2
    assert [(r.row, r.field) for r in report.rejects] == [(2, "type"), (7, "patron_key")]
    assert EventBatch.objects.get(id=report.batches[1].batch_id).rejected == 1


def test_a_batch_with_rejects_is_not_skipped_when_sent_again(store: EventStore) -> None:
    """A reject may be fixed by time (a clock that ran ahead): re-sending the same rows later
    must let the fixed row in, so only reject-free batches take the digest fast path."""
    now = datetime(2025, 3, 1, tzinfo=UTC)
    rows = event_rows(5, seed=10, start=now - timedelta(days=10), days=5)
    rows[4]["occurred_at"] = now + timedelta(hours=1)
    first = store.append(rows, source="test", now=now)
    later = store.append(rows, source="test", now=now + timedelta(days=1))
    assert (first.added, first.rejected) == (4, 1)
    assert (later.added, later.duplicates) == (1, 4)


def test_rows_without_a_source_column_take_the_batch_source(store: EventStore) -> None:
    store.append(event_table(3, seed=11).drop_columns(["source"]), source="gate-north")
    assert set(stored_rows(store).column("source").to_pylist()) == {"gate-north"}


def test_a_batch_of_the_wrong_shape_writes_nothing(store: EventStore) -> None:
    store.append(event_table(10, seed=12), source="test")
    before = sorted(p.name for p in store.root.rglob("*.parquet"))
    with pytest.raises(EventSchemaError):
        store.append(pa.table({"event_id": ["x"]}), source="test")
    assert sorted(p.name for p in store.root.rglob("*.parquet")) == before
    assert not (store.root / "_writer.json").exists()
    assert EventBatch.objects.filter(state="rolled_back").count() == 1


def test_a_second_store_is_independent(
    make_store: Callable[..., EventStore], tmp_path: Path
) -> None:
    table = event_table(20, seed=13)
    one, two = make_store(tmp_path / "a"), make_store(tmp_path / "b")
    one.append(table, source="test")
    report = two.append(table, source="test")  # same digest, other store: not skipped
    assert report.added == 20
    assert one.store_id != two.store_id


def test_an_empty_input_is_a_no_op(store: EventStore) -> None:
    report = store.append([], source="test")
    assert report.batches == [] and store.files() == []


def test_events_of_a_merged_key_are_stored_under_the_surviving_key(store: EventStore) -> None:
    old, new = patron_key(1), patron_key(2)
    store.rekey(old, new)
    rows = event_rows(30, seed=14, patrons=3)
    store.append(rows, source="test")
    keys = set(stored_rows(store).column("patron_key").to_pylist())
    assert old not in keys and new in keys
