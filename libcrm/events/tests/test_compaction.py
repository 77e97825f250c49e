"""Compaction: every row kept, each month sorted by patron in small row groups, atomically."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import pyarrow.parquet as pq
import pytest

from libcrm.events.store import EventStore
from libcrm.events.store.compaction import key_ranges
from libcrm.events.tests.conftest import stored_rows
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db


def fill(store: EventStore, batches: int = 4, per_batch: int = 600) -> None:
    for seed in range(batches):
        store.append(event_rows(per_batch, seed=40 + seed, patrons=60, days=90), source="test")


def rows_as_multiset(store: EventStore) -> Counter[tuple[object, ...]]:
    table = stored_rows(store)
    return Counter(
        tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(row.items()))
        for row in table.to_pylist()
    )


def test_compaction_keeps_every_row_and_sorts_each_month(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store(row_group_rows=256)
    fill(store)
    before = rows_as_multiset(store)
    files_before = len(store.files())
    report = store.compact()
    assert rows_as_multiset(store) == before
    assert report.files_before == files_before and report.files_after == 3  # Jan-Mar
    for path in store.files():
        table = pq.read_table(path)
        keys = list(
            zip(
                table.column("patron_key").to_pylist(),
                table.column("occurred_at").to_pylist(),
                table.column("event_id").to_pylist(),
                strict=True,
            )
        )
        assert keys == sorted(keys)
        meta = pq.read_metadata(path)
        assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= 2048
    assert all(entry.sorted for entry in store.manifest.files.values())
    on_disk = {p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet")}
    assert on_disk == set(store.manifest.files)


def test_compacting_twice_changes_nothing(store: EventStore) -> None:
    fill(store, batches=2)
    store.compact()
    files = set(store.manifest.files)
    assert store.compact().partitions == []
    assert set(store.manifest.files) == files


def test_new_appends_to_a_compacted_month_are_merged_in_next_time(store: EventStore) -> None:
    fill(store, batches=2)
    store.compact()
    store.append(event_rows(100, seed=49, patrons=60, days=20), source="test")
    assert store.compact().partitions == ["year=2025/month=01"]
    assert len(stored_rows(store)) == 1300


def test_a_big_month_is_split_into_files_by_patron_key_range(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store(compacted_file_rows=500)
    store.append(event_rows(2000, seed=50, patrons=200, days=28), source="test")
    store.compact()
    entries = sorted(store.manifest.files.values(), key=lambda e: e.pk_min)
    assert len(entries) == 4
    for left, right in itertools.pairwise(entries):
        assert left.pk_max < right.pk_min  # disjoint ranges: a timeline opens one file
    assert sum(e.rows for e in entries) == 2000


def test_key_ranges_cover_every_possible_key() -> None:
    ranges = key_ranges(4)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert key_ranges(1) == [(None, None)]


def test_readers_of_an_old_generation_retry_on_the_new_one(store: EventStore) -> None:
    """A reader that planned on the manifest before a compaction finds its files gone and
    reads again from the new manifest."""
    fill(store, batches=2)
    key = patron_key(3)
    expected = store.timeline(key, limit=1000).events
    old = store.manifest
    store.compact()
    calls = []

    def read(manifest: object) -> int:
        calls.append(manifest)
        if len(calls) == 1:
            raise FileNotFoundError("compacted away")
        return 1

    assert store.reader._retrying(read) == 1
    assert calls[1] is not old
    assert store.timeline(key, limit=1000).events == expected
