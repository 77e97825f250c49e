"""The Django shell around the store: settings decide where it lives and which zone it speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from libcrm.events import selectors, services
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.TIME_ZONE = "Asia/Shanghai"
    return tmp_path / "events"


def test_services_and_selectors_use_the_configured_store(installed: Path) -> None:
    report = services.append_events(event_rows(100, seed=90, patrons=3), source="test")
    assert report.added == 100
    assert services.event_store().root == installed.resolve()
    assert services.event_store() is services.event_store()
    assert len(selectors.patron_timeline(patron_key(1), limit=5).events) == 5
    assert selectors.store_overview().total == 100
    assert selectors.patron_activity(patron_key(1)).total > 0
    assert [b.added for b in selectors.ingestion_history()] == [100]


def test_erase_retain_merge_and_compact_through_services(installed: Path) -> None:
    services.append_events(event_rows(100, seed=91, patrons=3), source="test")
    services.merge_patron_events(patron_key(0), patron_key(1))
    assert services.compact_events().files_after >= 1
    erased = services.erase_patron_events(patron_key(1))
    assert erased.rows_deleted > 0
    assert selectors.patron_timeline(patron_key(0)).events == []
