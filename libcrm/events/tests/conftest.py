"""Fixtures of the events tests: a fresh event store in a temporary folder, with the real
ledger in the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libcrm.events import schema
from libcrm.events.ledger import DjangoLedger
from libcrm.events.store import EventStore, StoreOptions


@pytest.fixture
def make_store(db: Any, tmp_path: Path) -> Iterator[Callable[..., EventStore]]:
    stores: list[EventStore] = []

    def make(root: Path | None = None, **options: Any) -> EventStore:
        opened = EventStore(root or tmp_path / "events", DjangoLedger(), StoreOptions(**options))
        stores.append(opened)
        return opened

    yield make
    for opened in stores:
        opened.close()


@pytest.fixture
def store(make_store: Callable[..., EventStore]) -> EventStore:
    return make_store()


def stored_rows(store: EventStore) -> pa.Table:
    """Every live row, read straight from the Parquet files the manifest lists."""
    files = store.files()
    if not files:
        return schema.EVENT_SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(f).cast(schema.EVENT_SCHEMA) for f in files)


def stored_ids(store: EventStore) -> list[str]:
    return sorted(stored_rows(store).column("event_id").to_pylist())
