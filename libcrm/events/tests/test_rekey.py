"""Re-keying for identity merges: an alias in the manifest, kept through compaction, undone by
an unmerge."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from libcrm.events.store import EventStore
from libcrm.events.tests.conftest import stored_rows
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db
A, B, C = patron_key(1), patron_key(2), patron_key(3)


@pytest.fixture
def filled(store: EventStore) -> EventStore:
    store.append(event_rows(600, seed=80, patrons=5, days=90), source="test")
    return store


def ids_of(store: EventStore, key: str) -> set[str]:
    return {e["event_id"] for e in store.timeline(key, limit=1000).events}


def test_after_a_merge_the_survivor_sees_both_histories(filled: EventStore) -> None:
    a, b = ids_of(filled, A), ids_of(filled, B)
    files = set(filled.manifest.files)
    report = filled.rekey(A, B)
    assert report.new_patron_key == B and report.keys_moved == (A,)
    assert set(filled.manifest.files) == files  # nothing rewritten: O(1)
    assert ids_of(filled, B) == a | b
    assert {e["patron_key"] for e in filled.timeline(B, limit=1000).events} == {B}
    assert ids_of(filled, A) == a | b  # the old key resolves to the survivor
    assert filled.patron_activity(B, tz="UTC").total == len(a | b)


def test_chains_are_flattened(filled: EventStore) -> None:
    everyone = ids_of(filled, A) | ids_of(filled, B) | ids_of(filled, C)
    filled.rekey(A, B)
    report = filled.rekey(B, C)
    assert report.keys_moved == tuple(sorted((A, B)))
    assert {old: alias.to for old, alias in filled.manifest.aliases.items()} == {A: C, B: C}
    assert ids_of(filled, C) == everyone


def test_merging_back_turns_the_alias_around(filled: EventStore) -> None:
    a, b = ids_of(filled, A), ids_of(filled, B)
    filled.rekey(A, B)
    filled.rekey(B, A)
    assert {old: alias.to for old, alias in filled.manifest.aliases.items()} == {B: A}
    assert ids_of(filled, A) == a | b


def test_compaction_keeps_merged_keys_so_a_merge_can_be_undone(filled: EventStore) -> None:
    a, b = ids_of(filled, A), ids_of(filled, B)
    filled.rekey(A, B)
    filled.compact()
    assert A in set(stored_rows(filled).column("patron_key").to_pylist())
    assert ids_of(filled, B) == a | b
    for path in filled.files():
        keys = pq.read_table(path).column("patron_key").to_pylist()
        assert keys == sorted(keys)
    filled.unalias(A, B)
    assert ids_of(filled, A) == a
    assert ids_of(filled, B) == b
    assert A not in filled.manifest.aliases


def test_unalias_refuses_what_was_never_merged(filled: EventStore) -> None:
    with pytest.raises(ValueError, match="not merged"):
        filled.unalias(A, B)
    filled.rekey(A, B)
    with pytest.raises(ValueError, match="not merged"):
        filled.unalias(A, C)


def test_invalid_merges_are_refused(filled: EventStore) -> None:
    with pytest.raises(ValueError, match="the same"):
        filled.rekey(A, A)
    with pytest.raises(ValueError, match="old_patron_key"):
        filled.rekey("pkBAD", B)
    filled.rekey(A, B)
    with pytest.raises(ValueError, match="already merged"):
        filled.rekey(A, C)
