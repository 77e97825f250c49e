"""The partial aggregates kept beside the feature table: features computed from them equal the
one-plan computation, and an incremental refresh that merges a batch into them leaves exactly
what a full refresh would (table and partials alike)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libcrm.events import services as events
from libcrm.events.ledger import DjangoLedger
from libcrm.events.store import EventStore
from libcrm.events.tests.factories import event_rows, patron_key
from libcrm.features import engine, selectors, services
from libcrm.features.definitions import FeatureParams
from libcrm.features.storage import Partials
from libcrm.features.tests.handbuilt import READER_EVENTS
from libcrm.features.tests.test_services import RECENT, _with_ids

pytestmark = pytest.mark.django_db


def _scored(rows: list[dict]) -> list[dict]:
    for i, row in enumerate(rows):  # scores and a 24-hour branch, for every feature
        if i % 17 == 0:
            row.update(type="survey_answer", quantity=float(i % 11))
        if i % 13 == 0:
            row.update(type="gate_in", branch="24h")
    return rows


def _stored() -> Partials:
    found = services.stored_partials()
    assert found is not None
    return found


def _same(a: Partials, b: Partials) -> bool:
    return a.sorted().bands.equals(b.sorted().bands) and a.sorted().subjects.equals(
        b.sorted().subjects
    )


def test_features_from_partials_equal_the_one_plan_computation(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events", DjangoLedger())
    try:
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows = _scored(event_rows(2000, seed=31, patrons=30, start=start))
        store.append(rows, source="test")
        store.append(_with_ids(READER_EVENTS, "h"), source="test")
        store.rekey(patron_key(5), patron_key(6))
        params = FeatureParams(
            as_of=date(2025, 6, 30),
            tz="America/New_York",  # daylight saving
            data_start=datetime(2024, 1, 1, tzinfo=UTC),
            spaces_24h=("24h",),
        )
        partials = engine.compute_partials(store, params)
        one_plan = engine.compute(store, params)
        assert engine.features_from(store, partials, params).equals(one_plan)
        assert (
            patron_key(5) not in partials.patron_keys() and patron_key(6) in partials.patron_keys()
        )
        # Partials of two halves of the patrons' rows merge into the partials of all of them.
        some = [patron_key(i) for i in range(0, 30, 3)]
        half = engine.compute_partials(store, params, some)
        assert _same(engine.merge(store, partials.without(some), half), partials)
        assert _same(engine.merge(store, half, Partials.empty()), half)
        # Each batch's rows aggregated alone (found by batch id after the rekey rewrote
        # their files), merged, give the partials of all the rows.
        batches = store.ledger.committed_since(store.manifest.store_id, 0)
        assert len(batches) == 2
        per_batch = Partials.empty()
        for batch in batches:
            one = engine.compute_partials(store, params, batches=[batch])
            per_batch = engine.merge(store, per_batch, one)
        assert _same(per_batch, partials)
    finally:
        store.close()


def test_an_appended_batch_is_merged_into_the_partials(installed: Path, settings: Any) -> None:
    settings.LIBCRM_FEATURES_ON_APPEND = True
    events.append_events(_scored(event_rows(500, seed=32, patrons=25, **RECENT)), source="t")
    services.refresh_features()
    full_before = _stored()
    batch = _scored(event_rows(80, seed=33, patrons=6, id_prefix="n", **RECENT))
    report = events.append_events(batch, source="test")  # the receiver merges the batch
    state = services.feature_file().read_partials()
    assert state is not None
    assert state.state.batch_seq == events.event_store().manifest.batch_seq
    touched = set(services.appended_patron_keys(events.event_store(), report))
    changed = {
        k
        for k in full_before.patron_keys() | _stored().patron_keys()
        if not _same(full_before.only([k]), _stored().only([k]))
    }
    assert changed and changed <= touched
    incremental, merged = selectors.feature_table(), _stored()
    again = services.refresh_appended_features(report)  # taken in already: nothing to do
    assert again.patrons == 0 and selectors.feature_table().equals(incremental)
    services.refresh_features()
    assert selectors.feature_table().equals(incremental)
    assert _same(_stored(), merged)


def test_a_compacted_batch_is_found_by_its_id(installed: Path) -> None:
    events.append_events(event_rows(300, seed=34, patrons=12, **RECENT), source="test")
    services.refresh_features()
    events.append_events(event_rows(40, seed=35, patrons=4, id_prefix="m", **RECENT), source="t")
    events.event_store().compact()  # the batch's own files are merged into others
    report = services.refresh_appended_features()
    assert 0 < report.patrons <= 4
    caught_up, merged = selectors.feature_table(), _stored()
    services.refresh_features()
    assert selectors.feature_table().equals(caught_up)
    assert _same(_stored(), merged)


def test_without_matching_partials_the_patrons_history_is_read(installed: Path) -> None:
    events.append_events(event_rows(300, seed=36, patrons=12, **RECENT), source="test")
    services.refresh_features(as_of=services.library_today() - timedelta(days=1))
    events.append_events(event_rows(40, seed=37, patrons=4, id_prefix="k", **RECENT), source="t")
    report = services.refresh_appended_features()  # as of today: the partials do not match
    assert 0 < report.patrons <= 4
    assert services.feature_file().read_partials() is None  # dropped: not kept in step
    incremental = {r["patron_key"]: r for r in selectors.feature_table().to_pylist()}
    services.refresh_features()
    full = {r["patron_key"]: r for r in selectors.feature_table().to_pylist()}
    recomputed = {k for k, row in incremental.items() if row["as_of"] == services.library_today()}
    assert len(recomputed) == report.patrons
    assert {k: incremental[k] for k in recomputed} == {k: full[k] for k in recomputed}


def test_an_erased_patron_leaves_the_partials(installed: Path) -> None:
    events.append_events(event_rows(200, seed=38, patrons=5, **RECENT), source="test")
    services.refresh_features()
    assert patron_key(2) in _stored().patron_keys()
    events.erase_patron_events(patron_key(2))
    services.drop_patron_features(patron_key(2))
    assert patron_key(2) not in _stored().patron_keys()
    kept = _stored()
    services.refresh_features()
    assert _same(_stored(), kept)
