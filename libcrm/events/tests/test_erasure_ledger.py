"""Erasure through the services also stops the ledger naming the erased keys: a batch's file
list carries each file's patron-key range, which can be the erased key itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from libcrm.events import services
from libcrm.events.models import EventBatch
from libcrm.events.tests.factories import event_rows, patron_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    return tmp_path / "events"


def _ledger_text() -> str:
    return json.dumps(list(EventBatch.objects.values_list("files", flat=True)))


def test_erased_keys_leave_the_ledger_and_bounds_stay_true(installed: Path) -> None:
    services.append_events(event_rows(60, seed=5, patrons=3), source="test")
    keys = sorted({patron_key(n) for n in range(3)})
    low, high = keys[0], keys[-1]  # the file's bounds are real keys
    assert low in _ledger_text() and high in _ledger_text()
    services.merge_patron_events(high, low)
    services.erase_patron_events(low)  # erases `high` too: merged into `low`
    text = _ledger_text()
    assert low not in text and high not in text
    for files in EventBatch.objects.values_list("files", flat=True):
        for entry in files:
            assert entry["pk_min"] <= keys[1] <= entry["pk_max"]  # still a true range
