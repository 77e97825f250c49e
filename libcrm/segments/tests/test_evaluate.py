"""Every operator on a hand-made profile, run on DuckDB: who is in, and why."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow.parquet as pq
import pytest

from libcrm.segments.compiler import compile_rule
from libcrm.segments.evaluate import evaluate
from libcrm.segments.rules import InvalidRule, effective_rule
from libcrm.segments.tests.profiles import AS_OF, CATALOGUE, PROFILE


def members(rule, resolve=None, source=PROFILE) -> list[str]:
    found = evaluate(rule, CATALOGUE, source, AS_OF, resolve=resolve, reasons=False)
    return found.column("patron_key").to_pylist()


def leaf(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


CASES = [
    (leaf("loans_365d", "=", 3), ["p2"]),
    (leaf("loans_365d", "!=", 3), ["p1", "p3", "p4", "p6"]),
    (leaf("loans_365d", "<", 3), ["p1"]),
    (leaf("loans_365d", "<=", 3), ["p1", "p2"]),
    (leaf("loans_365d", ">", 12), ["p4"]),
    (leaf("loans_365d", ">=", 12), ["p3", "p4"]),
    (leaf("loans_365d", "between", [3, 12]), ["p2", "p3", "p6"]),
    (leaf("loans_365d", "in", [0, 40]), ["p1", "p4"]),
    (leaf("loans_365d", "not_in", [0, 40]), ["p2", "p3", "p6"]),
    (leaf("loans_365d", "is_set"), ["p1", "p2", "p3", "p4", "p6"]),
    (leaf("loans_365d", "is_not_set"), ["p5"]),
    (leaf("night_share_365d", ">", 0.3), ["p3", "p4"]),
    (leaf("night_share_365d", "between", [0.1, 0.25]), ["p2", "p6"]),
    (leaf("night_share_365d", "is_set"), ["p2", "p3", "p4", "p6"]),
    (leaf("night_share_365d", "is_not_set"), ["p1", "p5"]),
    (leaf("category", "=", "graduate"), ["p2", "p3"]),
    (leaf("category", "!=", "graduate"), ["p1", "p4", "p6"]),
    (leaf("category", "in", ["faculty", "undergraduate"]), ["p1", "p4"]),
    (leaf("category", "not_in", ["graduate"]), ["p1", "p4", "p6"]),
    (leaf("category", "is_set"), ["p1", "p2", "p3", "p4"]),
    (leaf("category", "is_not_set"), ["p5", "p6"]),
    (leaf("top_subjects_365d", "contains", "T"), ["p1", "p4", "p6"]),
    (leaf("top_subjects_365d", "is_set"), ["p1", "p2", "p4", "p6"]),
    (leaf("top_subjects_365d", "is_not_set"), ["p3", "p5"]),
    (leaf("consents_to_email", "=", True), ["p1", "p3", "p6"]),
    (leaf("consents_to_email", "!=", True), ["p2", "p5"]),
    (leaf("consents_to_email", "is_not_set"), ["p4"]),
    (leaf("last_seen", "within", {"days": 30}), ["p1", "p2"]),
    (leaf("last_seen", "within", {"days": 31}), ["p1", "p2", "p6"]),
    (leaf("last_seen", "in_window", {"from": "-90d", "to": "-30d"}), ["p3", "p6"]),
    (leaf("last_seen", "in_window", {"from": "-12w", "to": "today"}), ["p1", "p2", "p6"]),
    (leaf("last_seen", ">=", "-30d"), ["p1", "p2", "p6"]),
    (leaf("last_seen", "<", "2026-01-01"), ["p4"]),
    (leaf("last_seen", "=", "2026-04-01"), ["p3"]),
    (leaf("last_seen", "between", ["2026-04-01", "-30d"]), ["p3", "p6"]),
    (leaf("last_seen", "is_not_set"), ["p5"]),
    ({"not": leaf("loans_365d", ">", 5)}, ["p1", "p2", "p5"]),
    ({"not": {"not": leaf("loans_365d", ">", 5)}}, ["p3", "p4", "p6"]),
    ({"any": [leaf("loans_365d", ">=", 40), leaf("top_subjects_365d", "contains", "K")]},
     ["p4", "p6"]),
    ({"all": [leaf("category", "=", "graduate"), leaf("loans_365d", ">", 5)]}, ["p3"]),
    ({"all": [leaf("category", "=", "graduate")]}, ["p2", "p3"]),
    ({"not": {"any": [leaf("category", "=", "graduate"), leaf("loans_365d", ">", 10)]}},
     ["p1", "p5", "p6"]),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[str(r) for r, _ in CASES])
def test_every_operator_finds_the_known_members(rule, expected) -> None:
    assert members(rule) == expected


SEGMENTS = {
    "graduates": {"field": "category", "op": "=", "value": "graduate"},
    "busy-graduates": effective_rule({"field": "loans_365d", "op": ">", "value": 5}, "graduates"),
    "busy-night-graduates": effective_rule(
        {"field": "night_share_365d", "op": ">=", "value": 0.5}, "busy-graduates"
    ),
}


def test_a_child_segment_is_its_rule_and_its_parents() -> None:
    assert members({"segment": "graduates"}, SEGMENTS.get) == ["p2", "p3"]
    assert members({"segment": "busy-graduates"}, SEGMENTS.get) == ["p3"]
    assert members({"segment": "busy-night-graduates"}, SEGMENTS.get) == ["p3"]
    assert members({"not": {"segment": "graduates"}}, SEGMENTS.get) == ["p1", "p4", "p5", "p6"]


def test_reasons_say_which_conditions_held_with_which_values() -> None:
    rule = {
        "all": [
            {"segment": "graduates"},
            {"any": [leaf("loans_365d", ">", 5), leaf("top_subjects_365d", "contains", "O")]},
        ]
    }
    compiled = compile_rule(rule, CATALOGUE, AS_OF, SEGMENTS.get)
    assert [(x.column, x.field, x.op, x.path, x.via) for x in compiled.leaves] == [
        ("c0", "category", "=", "", ("graduates",)),
        ("c1", "loans_365d", ">", "/all/1/any/0", ()),
        ("c2", "top_subjects_365d", "contains", "/all/1/any/1", ()),
    ]
    rows = evaluate(rule, CATALOGUE, PROFILE, AS_OF, resolve=SEGMENTS.get).to_pylist()
    assert rows == [
        {"patron_key": "p2", "c0": True, "c1": False, "c2": True, "category": "graduate",
         "loans_365d": 3, "top_subjects_365d": ["O"]},
        {"patron_key": "p3", "c0": True, "c1": True, "c2": False, "category": "graduate",
         "loans_365d": 12, "top_subjects_365d": []},
    ]  # fmt: skip


def test_one_patrons_reasons() -> None:
    rule = leaf("loans_365d", ">", 5)
    rows = evaluate(rule, CATALOGUE, PROFILE, AS_OF, patron_key="p4").to_pylist()
    assert rows == [{"patron_key": "p4", "c0": True, "loans_365d": 40}]
    assert evaluate(rule, CATALOGUE, PROFILE, AS_OF, patron_key="p1").num_rows == 0


def test_a_parquet_file_and_a_given_connection(tmp_path) -> None:
    path = tmp_path / "profiles.parquet"
    pq.write_table(PROFILE, path)
    con = duckdb.connect()
    rule = leaf("top_subjects_365d", "contains", "T")
    found = evaluate(rule, CATALOGUE, path, AS_OF, connection=con)
    assert found.column("patron_key").to_pylist() == ["p1", "p4", "p6"]
    assert (
        found.schema.field("top_subjects_365d").type
        == PROFILE.schema.field("top_subjects_365d").type
    )
    assert con.execute("select 1").fetchall() == [(1,)]  # still open for its owner


def test_values_travel_as_literals_never_as_sql() -> None:
    hostile = "x'); DROP TABLE patrons; --"
    compiled = compile_rule(leaf("category", "=", hostile), CATALOGUE, AS_OF)
    assert "'x''); DROP TABLE patrons; --'" in compiled.sql("p", "duckdb")
    assert members(leaf("category", "in", [hostile, "faculty"])) == ["p4"]


def test_an_invalid_rule_does_not_run() -> None:
    with pytest.raises(InvalidRule) as raised:
        evaluate(leaf("loans_365d", ">", "many"), CATALOGUE, PROFILE, AS_OF)
    assert [e.path for e in raised.value.errors] == ["/value"]


def test_both_dialects_print_the_same_rule() -> None:
    rule = {"all": [leaf("top_subjects_365d", "is_set"), leaf("last_seen", "within", {"days": 7})]}
    compiled = compile_rule(rule, CATALOGUE, AS_OF)
    duck, spark = compiled.sql("p", "duckdb"), compiled.sql("p", "spark")
    assert 'ARRAY_LENGTH("top_subjects_365d")' in duck
    assert "SIZE(`top_subjects_365d`)" in spark
    assert "CAST('2026-06-24' AS DATE)" in duck and "CAST('2026-06-24' AS DATE)" in spark


def test_a_compiled_rule_is_kept_until_what_it_depends_on_changes() -> None:
    rules = {"graduates": leaf("category", "=", "graduate")}
    rule = {"all": [{"segment": "graduates"}, leaf("loans_365d", ">", 5)]}
    first = compile_rule(rule, CATALOGUE, AS_OF, rules.get)
    assert compile_rule(rule, CATALOGUE, AS_OF, rules.get) is first
    assert compile_rule(rule, CATALOGUE, date(2026, 7, 1), rules.get) is not first
    rules["graduates"] = leaf("category", "=", "faculty")  # the referenced segment changed
    assert members(rule, rules.get) == ["p4"]
    rule["all"][1]["value"] = 50  # so did the rule itself
    assert members(rule, rules.get) == []
    assert first.leaves[1].value == 5
