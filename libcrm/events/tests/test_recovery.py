"""Recovery: whatever state a dead writer left, the next writer makes the store consistent.

These tests build each crash state by hand (a pending ledger row with files on disk, a commit
that was never published, stray temporaries); test_kill.py does it for real with SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libcrm.events.errors import StoreCorrupt
from libcrm.events.models import EventBatch
from libcrm.events.store import EventStore, Progress
from libcrm.events.store import manifest as mf
from libcrm.events.tests.conftest import stored_ids
from libcrm.events.tests.factories import event_rows

pytestmark = pytest.mark.django_db


def two_batches(store: EventStore) -> tuple[list[dict[str, Any]], bytes, str]:
    """Append two batches; return the rows, the manifest as it was after the first, and the
    second batch's id."""
    rows = event_rows(200, seed=21)
    store.append(rows[:100], source="test")
    after_first = mf.manifest_path(store.root).read_bytes()
    second = store.append(rows[100:], source="test").batches[0].batch_id
    return rows, after_first, second


def crash_marker(store: EventStore) -> None:
    (store.root / "_writer.json").write_text('{"operation": "append", "pid": 1}')


def test_a_pending_batch_with_files_on_disk_is_rolled_back(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store()
    rows, after_first, second = two_batches(store)
    # The writer died after renaming its files, before the ledger commit:
    mf.manifest_path(store.root).write_bytes(after_first)
    EventBatch.objects.filter(id=second).update(state="pending", seq=None)
    leftovers = [p for p in store.root.rglob(f"{second}-*.parquet")]
    assert leftovers

    reopened = make_store(store.root)
    report = reopened.recover()
    assert report.rolled_back == [second]
    assert sorted(report.removed_files) == sorted(
        p.relative_to(store.root).as_posix() for p in leftovers
    )
    assert not any(p.exists() for p in leftovers)
    assert EventBatch.objects.get(id=second).state == "rolled_back"
    assert stored_ids(reopened) == sorted(r["event_id"] for r in rows[:100])
    # ...and the import, run again, lands the second half exactly once.
    assert reopened.append(rows, source="test").added == 100
    assert stored_ids(reopened) == sorted(r["event_id"] for r in rows)


def test_a_committed_batch_that_was_never_published_is_rolled_forward(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store()
    rows, after_first, second = two_batches(store)
    mf.manifest_path(store.root).write_bytes(after_first)  # died between commit and publish

    reopened = make_store(store.root)
    report = reopened.recover()
    assert report.rolled_forward == [second] and report.removed_files == []
    assert stored_ids(reopened) == sorted(r["event_id"] for r in rows)
    assert reopened.append(rows, source="test").added == 0


def test_the_first_append_of_a_process_recovers_without_being_asked(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store()
    rows, after_first, second = two_batches(store)
    mf.manifest_path(store.root).write_bytes(after_first)
    EventBatch.objects.filter(id=second).update(state="pending", seq=None)

    reopened = make_store(store.root)
    assert reopened.append(rows, source="test").added == 100
    assert EventBatch.objects.get(id=second).state == "rolled_back"
    assert stored_ids(reopened) == sorted(r["event_id"] for r in rows)


def test_half_written_and_stray_files_are_swept(store: EventStore) -> None:
    store.append(event_rows(50, seed=22), source="test")
    folder = store.files()[0].parent
    (folder / ".b1-0.parquet.tmp").write_bytes(b"half a file")
    (folder / "c-old-0.parquet").write_bytes(b"left by a compaction")
    crash_marker(store)
    report = store.recover()
    assert sorted(report.removed_files) == sorted(
        f"{folder.relative_to(store.root).as_posix()}/{name}"
        for name in (".b1-0.parquet.tmp", "c-old-0.parquet")
    )
    assert len(stored_ids(store)) == 50


class Crash(Exception):
    pass


@pytest.mark.parametrize(
    ("stage", "visible"), [("validated", 0), ("written", 0), ("committed", 40)]
)
def test_a_writer_failing_at_any_step_leaves_a_consistent_store(
    store: EventStore, stage: str, visible: int
) -> None:
    """Up to the ledger commit an append is undone; after it, it is completed."""

    def fail(progress: Progress) -> None:
        if progress.stage == stage:
            raise Crash(stage)

    with pytest.raises(Crash):
        store.append(event_rows(40, seed=23), source="test", on_progress=fail)
    assert len(stored_ids(store)) == visible
    live = {p.name for p in store.files()}
    on_disk = {p.name for p in store.root.rglob("*.parquet")}
    assert on_disk == live
    assert not list(store.root.rglob("*.tmp"))
    assert EventBatch.objects.get().state == ("committed" if visible else "rolled_back")


def test_partitions_without_a_manifest_are_never_taken_for_an_empty_store(
    store: EventStore, make_store: Callable[..., EventStore]
) -> None:
    store.append(event_rows(10, seed=24), source="test")
    mf.manifest_path(store.root).unlink()
    with pytest.raises(StoreCorrupt, match=r"no _manifest\.json"):
        make_store(store.root)


def test_a_committed_batch_whose_files_vanished_is_reported(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store()
    _, after_first, second = two_batches(store)
    mf.manifest_path(store.root).write_bytes(after_first)
    for path in store.root.rglob(f"{second}-*.parquet"):
        path.unlink()
    with pytest.raises(StoreCorrupt, match=f"batch {second} is committed"):
        make_store(store.root).recover()


def test_opening_the_store_repairs_what_a_dead_writer_left(
    make_store: Callable[..., EventStore],
) -> None:
    store = make_store()
    _, after_first, second = two_batches(store)
    mf.manifest_path(store.root).write_bytes(after_first)
    EventBatch.objects.filter(id=second).update(state="pending", seq=None)
    crash_marker(store)

    make_store(store.root)  # just opening it
    assert EventBatch.objects.get(id=second).state == "rolled_back"
    assert not (store.root / "_writer.json").exists()
    assert not list(store.root.rglob(f"{second}-*.parquet"))
