"""The same rules on Spark (local mode) find the same members, for the same reasons, as on
DuckDB."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libcrm.segments.evaluate import evaluate
from libcrm.segments.rules import effective_rule
from libcrm.segments.tests.profiles import AS_OF, CATALOGUE, PROFILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from libcrm.linkage.engine.spark import spark_session, stop_spark_session

    yield spark_session()
    stop_spark_session()


def generated_profile(n: int = 3000, seed: int = 5) -> pa.Table:
    rnd = random.Random(seed)
    categories = ["undergraduate", "graduate", "faculty", "staff", "public", "", None]
    classes = list("ABCDEFGHIJKNOPQRSTUVXZ")

    def maybe(value, p=0.1):
        return None if rnd.random() < p else value

    rows = []
    for i in range(n):
        top = maybe(rnd.sample(classes, rnd.randint(0, 3)))
        rows.append(
            {
                "patron_key": f"k{i:05d}",
                "loans_365d": maybe(int(rnd.expovariate(1 / 8))),
                "night_share_365d": maybe(round(rnd.random(), 3), 0.2),
                "last_seen": maybe(AS_OF - timedelta(days=int(rnd.expovariate(1 / 120)))),
                "category": rnd.choice(categories),
                "top_subjects_365d": top,
                "consents_to_email": maybe(rnd.random() < 0.6),
            }
        )
    return pa.Table.from_pylist(rows, schema=PROFILE.schema)


SEGMENTS = {
    "graduates": {"field": "category", "op": "in", "value": ["graduate"]},
    "active-graduates": effective_rule(
        {"field": "last_seen", "op": "within", "value": {"days": 90}}, "graduates"
    ),
}

RULES = [
    {"field": "loans_365d", "op": ">=", "value": 10},
    {"field": "night_share_365d", "op": "between", "value": [0.25, 0.5]},
    {"field": "category", "op": "not_in", "value": ["public", "staff"]},
    {"field": "top_subjects_365d", "op": "contains", "value": "T"},
    {"not": {"field": "top_subjects_365d", "op": "is_set"}},
    {"field": "last_seen", "op": "in_window", "value": {"from": "-180d", "to": "-30d"}},
    {"all": [{"field": "consents_to_email", "op": "=", "value": True},
             {"not": {"field": "loans_365d", "op": "<", "value": 3}}]},
    {"any": [{"field": "category", "op": "is_not_set"},
             {"field": "last_seen", "op": "<", "value": "2026-01-01"}]},
    {"all": [{"segment": "active-graduates"},
             {"any": [{"field": "loans_365d", "op": ">", "value": 5},
                      {"field": "night_share_365d", "op": ">", "value": 0.6}]}]},
    {"not": {"any": [{"segment": "graduates"}, {"field": "loans_365d", "op": "!=", "value": 0}]}},
    {"field": "last_seen", "op": ">=", "value": "-14d"},
]  # fmt: skip


def test_duckdb_and_spark_find_the_same_members_for_the_same_reasons(spark, tmp_path) -> None:
    profile = generated_profile()
    path = tmp_path / "profiles.parquet"
    pq.write_table(profile, path)
    sizes = []
    for rule in RULES:
        on_duckdb = evaluate(rule, CATALOGUE, path, AS_OF, resolve=SEGMENTS.get)
        on_spark = evaluate(rule, CATALOGUE, path, AS_OF, resolve=SEGMENTS.get, engine="spark",
                            connection=spark)  # fmt: skip
        assert on_duckdb.schema == on_spark.schema
        assert on_duckdb.to_pylist() == on_spark.to_pylist(), rule
        sizes.append(on_duckdb.num_rows)
    assert all(0 < size < profile.num_rows for size in sizes), sizes


def test_spark_reads_an_arrow_table_too(spark) -> None:
    rule = {"field": "last_seen", "op": "within", "value": {"days": 30}}
    found = evaluate(rule, CATALOGUE, PROFILE, AS_OF, engine="spark", connection=spark)
    assert found.column("patron_key").to_pylist() == ["p1", "p2"]
    assert found.column("last_seen").to_pylist() == [date(2026, 6, 30), date(2026, 6, 1)]
