"""How an incremental refresh stores its work: the touched patrons' rows in an overlay of the
table and the batch's partials as a delta after the stored ones — never the whole table or
partials again — folded into new bases once they grow; and what a reader makes of files left
by an interrupted write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libcrm.events import services as events
from libcrm.events.tests.factories import event_rows, patron_key
from libcrm.features import selectors, services, storage
from libcrm.features.storage import BANDS, DELTA_GLOB, OVERLAY_GLOB, TABLE
from libcrm.features.tests.test_services import RECENT

pytestmark = pytest.mark.django_db


def _inode(folder: Path, name: str) -> int:
    return os.stat(folder / name).st_ino


def _deltas(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(DELTA_GLOB))


def _overlays(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(OVERLAY_GLOB))


def _append(seed: int, patrons: int, prefix: str, count: int = 40) -> None:
    rows = event_rows(count, seed=seed, patrons=patrons, id_prefix=prefix, **RECENT)
    events.append_events(rows, source="test")


def _full_equals_current() -> bool:
    """A full refresh leaves the table and partials an incremental one left."""
    table, partials = selectors.feature_table(), services.stored_partials()
    assert partials is not None
    services.refresh_features()
    again = services.stored_partials()
    assert again is not None
    return selectors.feature_table().equals(table) and (
        again.sorted().bands.equals(partials.sorted().bands)
        and again.sorted().subjects.equals(partials.sorted().subjects)
    )


def test_an_incremental_refresh_writes_an_overlay_and_a_delta(installed: Path) -> None:
    folder = installed / "features"
    _append(40, 40, "a", count=800)
    services.refresh_features()
    base_table, base_bands = _inode(folder, TABLE), _inode(folder, BANDS)
    for i, seed in enumerate((41, 42)):
        _append(seed, 5, f"n{i}")
        report = services.refresh_appended_features()
        assert 0 < report.patrons <= 5 and report.table_rows == 40
    # The bases were not rewritten: the rows went to the overlay, the batches to deltas.
    assert (_inode(folder, TABLE), _inode(folder, BANDS)) == (base_table, base_bands)
    assert _overlays(folder) == [
        "profiles-overlay-000001.arrow",
        "profiles-overlay-000002.arrow",
    ]
    assert _deltas(folder) == [
        f"partials-delta-00000{n}-{part}.arrow" for n in (1, 2) for part in ("bands", "subjects")
    ]
    assert selectors.feature_provenance().batch_seq == events.event_store().manifest.batch_seq
    assert _full_equals_current()
    assert _overlays(folder) == [] and _deltas(folder) == []  # a full refresh starts anew


def test_overlay_and_deltas_are_folded_once_they_grow(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = installed / "features"
    _append(43, 20, "a", count=400)
    services.refresh_features()
    base_table = _inode(folder, TABLE)
    monkeypatch.setattr(storage, "FOLD_MINIMUM", 0)
    monkeypatch.setattr(storage, "TABLE_FOLD", 0.1)  # a few patrons of twenty outgrow them
    monkeypatch.setattr(storage, "PARTIALS_FOLD", 0.1)
    _append(44, 20, "n", count=60)
    services.refresh_appended_features()
    assert _inode(folder, TABLE) != base_table
    assert _overlays(folder) == [] and _deltas(folder) == []
    assert _full_equals_current()


def test_an_overlay_of_an_older_base_is_not_applied(installed: Path) -> None:
    folder = installed / "features"
    _append(45, 10, "a", count=200)
    services.refresh_features()
    _append(46, 3, "n")
    services.refresh_appended_features()
    [name] = _overlays(folder)
    stale = (folder / name).read_bytes()
    services.refresh_features()  # a new base
    expected = selectors.feature_table()
    (folder / name).write_bytes(stale)  # as if the old overlay's removal was lost
    fresh = storage.FeatureFile(folder)  # another process
    assert fresh.read()[0].equals(expected)
    assert fresh.row_count() == expected.num_rows


def test_a_lost_delta_is_taken_in_again(installed: Path) -> None:
    """The table is written before the partials: if the process dies between the two, the
    next refresh merges the same batch again and recomputes the same rows."""
    folder = installed / "features"
    _append(47, 12, "a", count=300)
    services.refresh_features()
    _append(48, 4, "n")
    services.refresh_appended_features()
    written = selectors.feature_table()
    for name in _deltas(folder):  # the delta never reached the disk
        (folder / name).unlink()
    report = services.refresh_appended_features()
    assert report.patrons > 0
    assert selectors.feature_table().equals(written)
    assert _full_equals_current()


def test_overlays_apply_in_order_and_a_gap_ends_them(installed: Path) -> None:
    folder = installed / "features"
    _append(53, 20, "a", count=500)
    services.refresh_features()
    for i, seed in enumerate((54, 55, 56)):
        _append(seed, 4, f"n{i}")  # the same few patrons each time: later rows win
        services.refresh_appended_features()
    assert len(_overlays(folder)) == 3
    latest = selectors.feature_table()
    second = folder / "profiles-overlay-000002.arrow"
    second.rename(folder / "kept-aside")  # as if the second overlay was lost
    only_first = storage.FeatureFile(folder).read()[0]  # the third, after a gap, is not applied
    assert not only_first.equals(latest)
    (folder / "kept-aside").rename(second)
    assert storage.FeatureFile(folder).read()[0].equals(latest)
    assert _full_equals_current()


def test_a_half_written_delta_is_ignored(installed: Path) -> None:
    folder = installed / "features"
    _append(49, 12, "a", count=300)
    services.refresh_features()
    _append(50, 4, "n")
    services.refresh_appended_features()
    (folder / "partials-delta-000001-bands.arrow").unlink()  # died between the two files
    fresh = storage.FeatureFile(folder)
    found = fresh.read_partials()
    assert found is not None and found.deltas.bands.num_rows == 0
    assert found.state.batch_seq < events.event_store().manifest.batch_seq


def test_erasure_folds_the_deltas(installed: Path) -> None:
    folder = installed / "features"
    _append(51, 30, "a", count=600)
    services.refresh_features()
    _append(52, 4, "n")
    services.refresh_appended_features()
    assert _deltas(folder)
    events.erase_patron_events(patron_key(1))
    assert services.drop_patron_features(patron_key(1))
    assert _deltas(folder) == []  # no file keeps the patron's partials
    partials = services.stored_partials()
    assert partials is not None and patron_key(1) not in partials.patron_keys()
    assert patron_key(1) not in set(selectors.feature_table().column("patron_key").to_pylist())
    assert _full_equals_current()
