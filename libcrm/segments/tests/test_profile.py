"""The profile rules run on: one row per active registry patron with attributes and features,
the attribute catalogue, the engagement scores, and starter rules on attributes."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from django.test import override_settings

from libcrm.features.definitions import FEATURE_SCHEMA
from libcrm.features.services import feature_file
from libcrm.patrons.models import Patron, PatronStatus
from libcrm.patrons.services import define_branch, define_department
from libcrm.segments.attributes import frequency_score, recency_score, score_columns
from libcrm.segments.evaluate import evaluate
from libcrm.segments.selectors import profile_table, segment_catalogue, segments_of
from libcrm.segments.services import install_starter_set
from libcrm.segments.starter import STARTER
from libcrm.segments.tests.test_services import AS_OF, _provenance

RULES = {s.slug: s.rule for s in STARTER}


def features(rows: dict[str, dict]) -> pa.Table:
    keys = sorted(rows)
    columns = {}
    for f in FEATURE_SCHEMA:
        if f.name == "patron_key":
            columns[f.name] = pa.array(keys, f.type)
        elif f.name == "as_of":
            columns[f.name] = pa.array([AS_OF] * len(keys), f.type)
        else:
            columns[f.name] = pa.array([rows[k].get(f.name) for k in keys], f.type)
    return pa.table(columns, schema=FEATURE_SCHEMA)


@pytest.mark.parametrize(
    ("days", "score"), [(None, 1), (0, 5), (7, 5), (8, 4), (30, 4), (31, 3), (90, 3),
                        (91, 2), (180, 2), (181, 1), (2000, 1)],
)  # fmt: skip
def test_recency_scores_follow_the_documented_thresholds(days, score) -> None:
    assert recency_score(days) == score


@pytest.mark.parametrize(
    ("days", "score"), [(None, 1), (0, 1), (1, 1), (2, 2), (5, 2), (6, 3), (11, 3), (12, 4),
                        (23, 4), (24, 5), (90, 5)],
)  # fmt: skip
def test_frequency_scores_follow_the_documented_thresholds(days, score) -> None:
    assert frequency_score(days) == score


def test_the_catalogue_names_attributes_beside_features() -> None:
    catalogue = segment_catalogue()
    assert catalogue["category"].type == "text" and catalogue["category"].label_zh == "读者类型"
    assert catalogue["registered_on"].type == "date"
    assert catalogue["recency_score"].type == "int"
    assert catalogue["loans_events_365d"].type == "int"
    assert "name" not in catalogue


@pytest.mark.django_db
def test_one_row_per_active_patron_with_attributes_and_features(
    actor, register_keys, tmp_path
) -> None:
    cs = define_department(actor, "cs", "计算机学院", "Computer science", "engineering")
    main = define_branch(actor, "main", "总馆", "Main library")
    register_keys("pk-busy", department=cs, home_branch=main, birth_year=2004,
                            gender="female", registered_on=date(2024, 9, 1))  # fmt: skip
    register_keys("pk-quiet", category="faculty", discipline="medicine")
    (gone,) = register_keys("pk-gone")
    (merged,) = register_keys("pk-merged")
    Patron.objects.filter(pk=gone.pk).update(status=PatronStatus.CLOSED)
    Patron.objects.filter(pk=merged.pk).update(status=PatronStatus.MERGED)
    stored = features({
        "pk-busy": {"loans_events_365d": 30, "days_since_last": 3, "all_days_90d": 30,
                    "last_seen": date(2026, 6, 27), "top_subjects_365d": ["T"]},
        "pk-gone": {"loans_events_365d": 4},
        "pk-stranger": {"loans_events_365d": 9},  # events, but no registry record
    })  # fmt: skip
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(stored, _provenance())
        table = profile_table()
        one = profile_table("pk-quiet")
        closed = profile_table("pk-gone")
    rows = {r["patron_key"]: r for r in table.to_pylist()}
    assert list(rows) == ["pk-busy", "pk-quiet"]
    b, q = rows["pk-busy"], rows["pk-quiet"]
    assert (b["category"], b["department"], b["discipline"], b["home_branch"]) == (
        "undergraduate", "cs", "engineering", "main")  # fmt: skip
    assert (b["age_band"], b["gender"], b["registered_on"]) == ("18-24", "female",
                                                              date(2024, 9, 1))  # fmt: skip
    assert b["tenure_days"] == (AS_OF - date(2024, 9, 1)).days
    assert (b["loans_events_365d"], b["top_subjects_365d"]) == (30, ["T"])
    assert (b["recency_score"], b["frequency_score"]) == (5, 5)
    assert (q["category"], q["discipline"], q["department"], q["age_band"]) == (
        "faculty", "medicine", None, None)  # fmt: skip
    assert q["loans_events_365d"] == 0 and q["visits_days_90d"] == 0  # counts: 0
    assert q["last_seen"] is None and q["days_since_last"] is None  # dates and recency: empty
    assert q["night_share_365d"] is None and q["top_subjects_365d"] is None
    assert (q["recency_score"], q["frequency_score"]) == (1, 1)
    assert all(r["as_of"] == AS_OF for r in rows.values())
    assert not {"name", "birth_year", "address"} & set(table.column_names)
    assert one.column("patron_key").to_pylist() == ["pk-quiet"] and closed.num_rows == 0
    assert one.schema == table.schema


@pytest.mark.django_db
def test_starter_rules_on_attributes_find_their_patrons(actor, register_keys, tmp_path) -> None:
    register_keys("pk-child", birth_year=2016)
    register_keys("pk-senior", birth_year=1950, discipline="history")
    register_keys("pk-doctor", birth_year=1990, discipline="medicine")
    register_keys("pk-engineer", birth_year=2003, discipline="engineering")
    stored = features({
        "pk-engineer": {"days_since_last": 1, "all_days_90d": 40, "visits_days_90d": 14,
                        "loans_events_365d": 30, "downloads_365d": 12},
        "pk-doctor": {"days_since_last": 20, "all_days_90d": 7, "visits_days_90d": 5},
        "pk-senior": {"days_since_last": 200, "all_days_90d": 0},
    })  # fmt: skip
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(stored, _provenance())
        profile = profile_table()
        install_starter_set(actor)
        engineer = {m["segment"].slug for m in segments_of("pk-engineer")}
    catalogue = segment_catalogue()

    def members(slug: str) -> list[str]:
        found = evaluate({"segment": slug}, catalogue, profile, AS_OF, resolve=RULES.get,
                         reasons=False)  # fmt: skip
        return found.column("patron_key").to_pylist()

    assert members("age-children") == ["pk-child"]
    assert members("age-seniors") == ["pk-senior"]
    assert members("age-young-adults") == ["pk-engineer"]
    assert members("age-adults") == ["pk-doctor"]
    assert members("discipline-stem") == ["pk-engineer"]
    assert members("discipline-medicine") == ["pk-doctor"]
    assert members("discipline-humanities-social") == ["pk-senior"]
    assert members("engagement-high") == ["pk-engineer"]
    assert members("engagement-medium") == ["pk-doctor"]
    assert members("engagement-low") == ["pk-child", "pk-senior"]
    assert members("regular-visitors") == ["pk-doctor"]
    assert {"frequent-visitors", "heavy-borrowers", "e-resource-downloaders",
            "engagement-high", "discipline-stem", "age-young-adults"} <= engineer  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db
def test_the_starter_set_finds_the_same_members_on_spark(actor, register_keys, tmp_path) -> None:
    """Attributes (text, dates, scores) and features of the real profile give the same
    memberships on DuckDB and Spark."""
    pytest.importorskip("pyspark")
    from libcrm.linkage.engine.spark import spark_session, stop_spark_session

    disciplines = ["engineering", "medicine", "history", "", "science", "law"]
    rows = {}
    for i in range(60):
        key = f"pk-{i:03d}"
        register_keys(key, birth_year=1950 + i, discipline=disciplines[i % 6],
                      registered_on=date(2020, 1, 1 + i % 28))  # fmt: skip
        if i % 5:
            rows[key] = {"days_since_last": (i * 37) % 400, "all_days_90d": i % 30,
                         "visits_days_90d": i % 15, "loans_events_365d": i % 40,
                         "downloads_365d": i % 13, "first_seen": date(2025, 1, 1 + i % 28),
                         "last_seen": AS_OF, "night_share_365d": (i % 10) / 10,
                         "all_events_365d": i}  # fmt: skip
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(features(rows), _provenance())
        profile = profile_table()
    catalogue = segment_catalogue()
    spark = spark_session()
    try:
        for s in STARTER:
            rule = {"segment": s.slug}
            on_duckdb = evaluate(rule, catalogue, profile, AS_OF, resolve=RULES.get)
            on_spark = evaluate(rule, catalogue, profile, AS_OF, resolve=RULES.get,
                                engine="spark", connection=spark)  # fmt: skip
            assert on_duckdb.to_pylist() == on_spark.to_pylist(), s.slug
    finally:
        stop_spark_session()


def test_engagement_levels_put_every_patron_in_exactly_one() -> None:
    keys = [f"k{i:03d}" for i in range(200)]
    since = [None if i % 7 == 0 else (i * 13) % 400 for i in range(200)]
    days = [(i * 7) % 45 for i in range(200)]
    scores = score_columns(since, days)
    profile = pa.table({"patron_key": keys, **scores})
    seen: dict[str, list[str]] = {}
    for slug in ("engagement-high", "engagement-medium", "engagement-low"):
        found = evaluate({"segment": slug}, segment_catalogue(), profile, AS_OF,
                         resolve=RULES.get, reasons=False)  # fmt: skip
        assert found.num_rows > 0, slug
        for key in found.column("patron_key").to_pylist():
            seen.setdefault(key, []).append(slug)
    assert sorted(seen) == keys and all(len(v) == 1 for v in seen.values())


@pytest.mark.django_db
def test_the_profile_is_kept_until_registry_or_features_change(
    actor, register_keys, tmp_path
) -> None:
    from libcrm.events.tests.factories import patron_key
    from libcrm.linkage.services import merge_patrons

    ka, kb, kc = patron_key(1), patron_key(2), patron_key(3)
    cs = define_department(actor, "cs", "计算机学院", "Computer science", "engineering")
    first, second, third = (
        register_keys(ka, department=cs)[0],
        register_keys(kb)[0],
        register_keys(kc)[0],
    )
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(features({ka: {"loans_events_365d": 3}}), _provenance())
        kept = profile_table()
        assert profile_table() is kept  # nothing changed: the same table, not rebuilt
        second.gender = "female"
        second.save()
        changed = profile_table()
        assert changed is not kept
        assert {r["patron_key"]: r["gender"] for r in changed.to_pylist()}[kb] == "female"
        # A merge marks the merged record in one bulk update: it leaves the profile.
        merge_patrons(actor, survivor=first, merged=third, reason="same person")
        assert changed.num_rows == 3 and profile_table().num_rows == 2
        before = profile_table()
        cs.discipline = "science"
        cs.save()  # the department's discipline is the patron's when they have none
        rows = {r["patron_key"]: r for r in profile_table().to_pylist()}
        assert profile_table() is not before and rows[ka]["discipline"] == "science"
        before = profile_table()
        feature_file().replace(features({ka: {"loans_events_365d": 9}}), _provenance())
        rows = {r["patron_key"]: r for r in profile_table().to_pylist()}
        assert rows[ka]["loans_events_365d"] == 9 and profile_table() is not before
