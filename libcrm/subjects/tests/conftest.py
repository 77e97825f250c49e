"""Fixtures of the subjects tests: a private event store per test, and a patron with events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.services import append_events


@pytest.fixture(autouse=True)
def private_event_store(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    # The audit chain's checkpoint lives outside the database, which each test rolls back.
    settings.LIBCRM_AUDIT_CHECKPOINT = tmp_path / "audit" / "checkpoint.json"
    return settings.LIBCRM_EVENT_STORE_DIR


NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def add_events() -> Callable[..., int]:
    """Append events for a patron key: ``add_events(key, [("loan", days_ago, item), ...])``."""
    counter = iter(range(1, 1_000_000))

    def add(key: str, events: list[tuple[str, float, str | None]], source: str = "test") -> int:
        rows = []
        for type_, days_ago, item in events:
            rows.append(
                {
                    "event_id": f"s{next(counter)}-{key[-6:]}",
                    "patron_key": key,
                    "occurred_at": NOW - timedelta(days=days_ago),
                    "type": type_,
                    "channel": "physical",
                    "item_id": item,
                    "source": source,
                    "attrs": {"desk": "main"},
                }
            )
        return append_events(rows, source=source).added

    return add
