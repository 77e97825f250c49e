"""The same feature expression on Spark (local mode) gives the same table as on DuckDB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.ledger import DjangoLedger
from libcrm.events.store import EventStore
from libcrm.events.tests.factories import event_rows, patron_key
from libcrm.features import engine
from libcrm.features.definitions import FeatureParams
from libcrm.features.tests.handbuilt import READER, READER_EVENTS
from libcrm.features.tests.test_services import _with_ids

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def spark() -> Any:
    pytest.importorskip("pyspark")
    from libcrm.linkage.engine.spark import spark_session, stop_spark_session

    yield spark_session()
    stop_spark_session()


def test_duckdb_and_spark_give_identical_feature_tables(spark: Any, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events", DjangoLedger())
    try:
        rows = event_rows(3000, seed=21, patrons=40, start=datetime(2025, 1, 1, tzinfo=UTC))
        for i, row in enumerate(rows):  # scores and a 24-hour branch, for every feature
            if i % 17 == 0:
                row.update(type="survey_answer", quantity=float(i % 11))
            if i % 13 == 0:
                row.update(type="gate_in", branch="24h")
        store.append(rows, source="test")
        store.append(_with_ids(READER_EVENTS, "h"), source="test")
        store.compact()
        store.rekey(patron_key(5), patron_key(6))
        params = FeatureParams(
            as_of=date(2025, 6, 30),
            tz="America/New_York",  # daylight saving on both engines
            data_start=datetime(2024, 1, 1, tzinfo=UTC),
            spaces_24h=("24h",),
        )
        on_duckdb = engine.compute(store, params)
        on_spark = engine.compute(store, params, engine="spark")
        assert on_duckdb.num_rows == 39  # 40 patrons (the reader among them), one merged
        assert READER in on_duckdb.column("patron_key").to_pylist()
        differ = [n for n in on_duckdb.column_names if not on_spark[n].equals(on_duckdb[n])]
        assert differ == []
        some = [patron_key(5), READER]  # 5 now means 6
        assert engine.compute(store, params, some, engine="spark").equals(
            engine.compute(store, params, some)
        )
    finally:
        store.close()
