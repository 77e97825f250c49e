"""The feature table of an installation: full and incremental refreshes from the event store,
the selectors, the CLI, and the privacy follow-ups."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from libcrm.events import services as events
from libcrm.events.tests.factories import event_rows, patron_key
from libcrm.features import selectors, services
from libcrm.features.storage import META_KEY
from libcrm.features.tests.handbuilt import AS_OF, READER, READER_EVENTS
from libcrm.privacy.signals import patron_erased, patrons_merged

pytestmark = pytest.mark.django_db
# Receivers refresh as of today, so generated events lie in the last 200 days.
RECENT = {"start": datetime.now(UTC) - timedelta(days=200), "days": 195}


def _with_ids(rows: list[dict], prefix: str) -> list[dict]:
    return [{"event_id": f"{prefix}{i}", "source": "test", **row} for i, row in enumerate(rows)]


def test_full_refresh_gives_the_hand_worked_features(installed: Path) -> None:
    events.append_events(_with_ids(READER_EVENTS, "h"), source="test")
    report = services.refresh_features(as_of=AS_OF)
    assert (report.full, report.patrons, report.table_rows) == (True, 1, 1)
    found = selectors.features_of(READER)
    assert found["all_events_30d"] == 6
    assert found["night_share_365d"] == pytest.approx(0.25)
    assert found["top_subjects_365d"] == ["T", "I"]
    assert found["space_24h_uses_365d"] == 1
    assert selectors.features_of(patron_key(99)) == {}
    provenance = selectors.feature_provenance()
    assert provenance is not None
    assert provenance.as_of == AS_OF.isoformat() and provenance.full
    assert provenance.batch_seq == events.event_store().manifest.batch_seq
    stored = pq.read_schema(installed / "features" / "profiles.parquet")
    assert META_KEY in stored.metadata  # the file says what it was computed from


def test_merged_keys_are_respected(installed: Path) -> None:
    events.append_events(event_rows(300, seed=5, patrons=4, **RECENT), source="test")
    before = {r["patron_key"]: r for r in _full()}
    events.merge_patron_events(patron_key(0), patron_key(1))
    patrons_merged.send(sender=None, survivor_key=patron_key(1), merged_key=patron_key(0))
    after = {r["patron_key"]: r for r in selectors.feature_table().to_pylist()}
    assert patron_key(0) not in after
    survivor = after[patron_key(1)]
    for name in ("all_events_365d", "loans_events_365d", "channel_web_365d"):
        assert survivor[name] == before[patron_key(0)][name] + before[patron_key(1)][name]
    assert after == {r["patron_key"]: r for r in _full()}


def test_incremental_refresh_equals_full_refresh(installed: Path, settings: Any) -> None:
    settings.LIBCRM_FEATURES_ON_APPEND = True
    events.append_events(event_rows(400, seed=6, patrons=30, **RECENT), source="test")
    assert selectors.feature_provenance() is None  # no table until a first full refresh
    services.refresh_features()
    first = {r["patron_key"]: r for r in selectors.feature_table().to_pylist()}
    assert len(first) == 30
    events.merge_patron_events(patron_key(3), patron_key(4))
    patrons_merged.send(sender=None, survivor_key=patron_key(4), merged_key=patron_key(3))
    batch = event_rows(60, seed=7, patrons=8, id_prefix="n", **RECENT)
    report = events.append_events(batch, source="test")
    touched = services.appended_patron_keys(events.event_store(), report)
    assert 0 < len(touched) <= 8
    incremental = selectors.feature_table()
    now = {r["patron_key"]: r for r in incremental.to_pylist()}
    changed = {k for k, row in now.items() if first.get(k) != row}
    assert patron_key(3) not in now
    assert changed and changed <= {*touched, patron_key(4)}
    services.refresh_features()
    assert selectors.feature_table().equals(incremental)


def test_refresh_command_catches_up_and_rebuilds(installed: Path) -> None:
    out = io.StringIO()
    events.append_events(event_rows(200, seed=8, patrons=10, **RECENT), source="test")
    call_command("features", "refresh", stdout=out)  # never computed: a full refresh
    assert "full refresh" in out.getvalue()
    events.append_events(event_rows(20, seed=9, patrons=3, id_prefix="m", **RECENT), source="test")
    out = io.StringIO()
    call_command("features", "refresh", stdout=out)
    assert "incremental refresh" in out.getvalue()
    caught_up = selectors.feature_table()
    call_command("features", "refresh", "--full", stdout=io.StringIO())
    assert selectors.feature_table().equals(caught_up)
    out = io.StringIO()
    call_command("features", "show", patron_key(1), stdout=out)
    assert '"all_events_365d"' in out.getvalue()


def test_erased_patron_is_dropped(installed: Path) -> None:
    events.append_events(event_rows(200, seed=10, patrons=5), source="test")
    services.refresh_features()
    assert selectors.features_of(patron_key(2))
    events.erase_patron_events(patron_key(2))
    patron_erased.send(sender=None, patron_key=patron_key(2))
    assert selectors.features_of(patron_key(2)) == {}
    assert patron_key(2) not in selectors.feature_table().column("patron_key").to_pylist()
    assert selectors.feature_table().num_rows == 4


def test_bad_engine_and_keys_are_refused(installed: Path) -> None:
    with pytest.raises(services.FeatureError, match="LIBCRM_ANALYTICS_ENGINE"):
        services.refresh_features(engine_name="pandas")
    with pytest.raises(ValueError, match="patron_key"):
        services.refresh_patron_features(["not-a-key"])
    assert not (installed / "features" / "profiles.parquet").exists()


def _full() -> list[dict]:
    services.refresh_features()
    return selectors.feature_table().to_pylist()
