"""Retention of loan history (ALA / Koha style): loan, renewal, hold and return events leave a
patron 14 days after the item came back, unless the patron is spared (they keep their loan
history); a loan not yet returned stays; a dry run reports and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.compute as pc
import pytest

from libcrm.events import schema
from libcrm.events.store import EventStore, RetentionRule
from libcrm.events.store.rewrite import apply_retention
from libcrm.events.tests.conftest import stored_rows
from libcrm.events.tests.factories import patron_key

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 7, 1, 12, tzinfo=UTC)
CIRCULATION = frozenset({"loan", "return", "renewal", "hold"})
ANON = schema.ANONYMOUS_PATRON_KEY


def _event(n: int, key: str, days_ago: float, type_: str, item: str | None) -> dict[str, Any]:
    return {
        "event_id": f"r{n}",
        "patron_key": key,
        "occurred_at": NOW - timedelta(days=days_ago),
        "type": type_,
        "channel": "physical",
        "item_id": item,
        "source": "test",
    }


READER, KEEPER, MERGED = patron_key(1), patron_key(2), patron_key(3)
EVENTS = [
    # READER: book A borrowed 60 days ago, renewed, returned 30 days ago -> all anonymised
    _event(1, READER, 61, "hold", "A"),
    _event(2, READER, 60, "loan", "A"),
    _event(3, READER, 45, "renewal", "A"),
    _event(4, READER, 30, "return", "A"),
    # book B returned 5 days ago: within the 14 days -> kept
    _event(5, READER, 40, "loan", "B"),
    _event(6, READER, 5, "return", "B"),
    # book C borrowed 100 days ago, never returned -> kept
    _event(7, READER, 100, "loan", "C"),
    # book A borrowed again 20 days ago, not returned since -> kept (its return is older)
    _event(8, READER, 20, "loan", "A"),
    # a visit is not circulation -> kept
    _event(9, READER, 90, "gate_in", None),
    # KEEPER asked to keep their loan history -> kept
    _event(10, KEEPER, 60, "loan", "D"),
    _event(11, KEEPER, 30, "return", "D"),
    # MERGED was merged into KEEPER: spared with them
    _event(12, MERGED, 70, "loan", "E"),
    _event(13, MERGED, 50, "return", "E"),
]


def _rule() -> RetentionRule:
    return RetentionRule(
        older_than=timedelta(days=14),
        types=CIRCULATION,
        action="anonymise",
        keep_keys=frozenset({KEEPER}),
        after_return=True,
    )


def _owners(store: EventStore) -> dict[str, str]:
    rows = stored_rows(store)
    return dict(
        zip(rows.column("event_id").to_pylist(), rows.column("patron_key").to_pylist(), strict=True)
    )


@pytest.fixture(params=["fresh", "compacted"])
def loans(request: pytest.FixtureRequest, store: EventStore) -> EventStore:
    store.append(EVENTS[:7], source="test")
    store.append(EVENTS[7:], source="test")
    store.rekey(MERGED, KEEPER)
    if request.param == "compacted":
        store.compact()
    return store


def test_loan_history_is_anonymised_fourteen_days_after_the_return(loans: EventStore) -> None:
    report = apply_retention(loans, [_rule()], now=NOW)
    owners = _owners(loans)
    assert {e for e, key in owners.items() if key == ANON} == {"r1", "r2", "r3", "r4"}
    assert report.rows_anonymised == 4 and report.rows_deleted == 0
    assert report.by_type == {"anonymised": {"hold": 1, "loan": 1, "renewal": 1, "return": 1}}
    # statistics survive: every event is still there
    assert len(owners) == len(EVENTS)
    # the spared patron (and the key merged into them) keep theirs
    assert owners["r10"] == KEEPER and owners["r13"] in (MERGED, KEEPER)
    # a second run finds nothing more to do
    assert not apply_retention(loans, [_rule()], now=NOW).changed


def test_the_item_returned_later_takes_its_loan_along(loans: EventStore) -> None:
    later = NOW + timedelta(days=10)  # book B's return is now 15 days old
    apply_retention(loans, [_rule()], now=later)
    owners = _owners(loans)
    assert owners["r5"] == ANON and owners["r6"] == ANON
    assert owners["r7"] == READER  # never returned
    assert owners["r8"] == READER  # borrowed again after the old return


def test_without_keep_keys_everyone_is_anonymised(loans: EventStore) -> None:
    rule = RetentionRule(
        older_than=timedelta(days=14), types=CIRCULATION, action="anonymise", after_return=True
    )
    apply_retention(loans, [rule], now=NOW)
    owners = _owners(loans)
    assert owners["r10"] == ANON and owners["r11"] == ANON and owners["r13"] == ANON


def test_dry_run_reports_and_changes_nothing(loans: EventStore) -> None:
    before = _owners(loans)
    files = sorted(loans.manifest.files)
    report = apply_retention(loans, [_rule()], now=NOW, dry_run=True)
    assert report.dry_run and report.rows_anonymised == 4
    assert _owners(loans) == before
    assert sorted(loans.manifest.files) == files


def test_age_rules_spare_keep_keys_too(store: EventStore) -> None:
    store.append(EVENTS, source="test")
    rule = RetentionRule(
        older_than=timedelta(days=25), types=frozenset({"return"}), keep_keys=frozenset({READER})
    )
    report = apply_retention(store, [rule], now=NOW)
    rows = stored_rows(store)
    left = set(rows.column("event_id").to_pylist())
    assert {"r11", "r13"}.isdisjoint(left)  # KEEPER's and MERGED's old returns deleted
    assert "r4" in left  # READER is spared
    assert report.rows_deleted == 2
    assert pc.sum(pc.equal(rows.column("patron_key"), ANON)).as_py() in (0, None)


def test_keep_keys_must_be_patron_keys() -> None:
    with pytest.raises(ValueError, match="keep_keys"):
        RetentionRule(older_than=timedelta(days=1), keep_keys=frozenset({"not-a-key"}))
