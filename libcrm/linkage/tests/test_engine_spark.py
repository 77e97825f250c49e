"""The same model on Spark (local mode) gives the same links as on DuckDB."""

from __future__ import annotations

from datetime import date

import pytest

from libcrm.linkage.engine import LinkSettings, link_records
from libcrm.linkage.quality import world_raw_records
from libcrm.world.world import WorldConfig, build_people

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from libcrm.linkage.engine.spark import spark_session, stop_spark_session

    yield spark_session()
    stop_spark_session()


def test_spark_and_duckdb_give_identical_links(spark) -> None:
    people = build_people(WorldConfig(until=date(2026, 6, 30), patrons=400, seed=8))
    records = world_raw_records(people)
    on_duckdb = link_records(records, LinkSettings(review_threshold=0.2))
    on_spark = link_records(records, LinkSettings(review_threshold=0.2, backend="spark"))

    def pairs(result):
        return {(r["left_id"], r["right_id"]): r for r in result.pairs.to_pylist()}

    duck, sprk = pairs(on_duckdb), pairs(on_spark)
    assert duck and set(duck) == set(sprk)
    for key, row in duck.items():
        assert sprk[key]["match_probability"] == pytest.approx(row["match_probability"], abs=1e-9)
        assert sprk[key]["evidence"] == row["evidence"] or all(
            a["level"] == b["level"]
            for a, b in zip(
                __import__("json").loads(row["evidence"]),
                __import__("json").loads(sprk[key]["evidence"]),
                strict=True,
            )
        )
    assert on_spark.model["prior"] == pytest.approx(on_duckdb.model["prior"], rel=1e-9)
