"""Discovered groups (pure core): planted groups are found far better than chance, each is
described by the features that set it apart in both languages, each gets a rule that checks
and approximates it, and groups under k are not shown."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import adjusted_rand_score

from libcrm.features.definitions import FEATURE_SCHEMA, FEATURES
from libcrm.segments.discovery import (
    DiscoveryError,
    discover,
    random_baseline,
    rule_mask,
)
from libcrm.segments.rules import catalogue_of, validate

CATALOGUE = catalogue_of(FEATURES)
AS_OF = date(2026, 6, 30)
# Three kinds of patron: heavy borrowers, night owls in the 24-hour space, e-resource users.
PLANTED = {
    "borrower": {"loans_events_365d": 30, "visits_events_365d": 40, "downloads_365d": 0,
                 "night_share_365d": 0.05, "space_24h_uses_365d": 0},
    "night_owl": {"loans_events_365d": 0, "visits_events_365d": 60, "downloads_365d": 0,
                  "night_share_365d": 0.55, "space_24h_uses_365d": 40},
    "digital": {"loans_events_365d": 0, "visits_events_365d": 8, "downloads_365d": 60,
                "night_share_365d": 0.4, "space_24h_uses_365d": 0},
}  # fmt: skip


def planted_table(per_group: int = 150, outliers: int = 0, seed: int = 1) -> tuple[pa.Table, list]:
    """A full feature table (the columns not planted are empty) and each row's true group;
    ``outliers`` patrons who give feedback all the time form a tiny fourth group."""
    rng = np.random.default_rng(seed)
    values: dict[str, list] = {name: [] for name in PLANTED["borrower"]}
    values["feedback_events_365d"] = []
    truth: list[str] = []
    for group, means in PLANTED.items():
        for name, mean in means.items():
            if name == "night_share_365d":
                draw = np.clip(rng.normal(mean, 0.05, per_group), 0, 1).round(3)
            else:
                draw = rng.poisson(mean, per_group)
            values[name].extend(draw.tolist())
        values["feedback_events_365d"].extend([0] * per_group)
        truth += [group] * per_group
    for name in PLANTED["borrower"]:
        values[name].extend([PLANTED["borrower"][name]] * outliers)
    values["feedback_events_365d"].extend([400] * outliers)
    truth += ["outlier"] * outliers
    rows = len(truth)
    order = rng.permutation(rows)
    given = {name: [column[i] for i in order] for name, column in values.items()}
    given["patron_key"] = [f"k{i:04d}" for i in range(rows)]
    given["as_of"] = [AS_OF] * rows
    columns = {
        f.name: pa.array(given[f.name], f.type) if f.name in given else pa.nulls(rows, f.type)
        for f in FEATURE_SCHEMA
    }
    return pa.table(columns, schema=FEATURE_SCHEMA), [truth[i] for i in order]


def _majority(found, truth: list[str], group: str) -> int:
    """The number of the discovered group most of ``group`` landed in."""
    labels = [found.labels[i] for i, t in enumerate(truth) if t == group]
    return max(set(labels), key=labels.count)


def test_planted_groups_are_found_far_above_chance() -> None:
    table, truth = planted_table()
    found = discover(table, FEATURES, seed=0)
    assert found.k == 3  # chosen by silhouette over 3..10
    assert set(found.silhouettes) == set(range(3, 11))
    ari = adjusted_rand_score(truth, found.labels)
    baseline = adjusted_rand_score(truth, random_baseline(found.labels, seed=0))
    assert ari > 0.8
    assert baseline < 0.05
    assert found.suppressed == 0
    # Empty columns (here: everything not planted) are left out; short windows are never used.
    assert "loans_events_365d" in found.features and "all_events_365d" not in found.features
    assert not any(name.endswith("_30d") for name in found.features)


def test_each_group_is_described_by_what_sets_it_apart_in_both_languages() -> None:
    table, truth = planted_table()
    found = discover(table, FEATURES, k=3, seed=0)
    borrowers = found.groups[_majority(found, truth, "borrower") - 1]
    night = found.groups[_majority(found, truth, "night_owl") - 1]
    digital = found.groups[_majority(found, truth, "digital") - 1]

    top = borrowers.distinctions[0]
    assert top.feature == "loans_events_365d" and top.higher and top.statistic == "median"
    assert top.group_value > 20 and top.rest_value < 5
    assert borrowers.description("en").startswith("Number of loans, last 365 days: far higher")
    assert "近365天借阅次数：远高于其他读者（中位数" in borrowers.description("zh")

    night_features = {d.feature for d in night.distinctions}
    assert {"night_share_365d", "space_24h_uses_365d"} <= night_features
    assert "Share of activities at night, last 365 days: far higher" in night.description("en")
    assert "近365天夜间活动占比：远高于其他读者" in night.description("zh")

    assert digital.distinctions[0].feature == "downloads_365d"
    lower = [d for d in digital.distinctions if not d.higher]
    assert lower and "lower than others" in lower[0].phrase("en")
    assert "低于其他读者" in lower[0].phrase("zh")
    for group in found.groups:  # at most four, never two saying the same thing
        assert 1 <= len(group.distinctions) <= 4
        assert len({d.feature for d in group.distinctions}) == len(group.distinctions)


def test_each_group_gets_a_rule_that_checks_and_approximates_it() -> None:
    table, _ = planted_table()
    found = discover(table, FEATURES, k=3, seed=0)
    names = found.features
    raw = np.column_stack(
        [np.asarray(table[n].to_numpy(zero_copy_only=False), dtype=float) for n in names]
    )
    for group in found.groups:
        rule = group.rule
        assert rule is not None and rule.errors == ()
        assert validate(rule.rule, CATALOGUE) == []
        assert rule.precision > 0.9 and rule.recall > 0.9
        # The reported figures are those of the rule as written, on the table.
        selected = rule_mask(rule.rule, raw, names)
        inside = found.labels == group.number
        assert rule.precision == round((selected & inside).sum() / selected.sum(), 3)
        assert rule.recall == round((selected & inside).sum() / inside.sum(), 3)
        conditions = _conditions(rule.rule)
        assert conditions and all(c["op"] in ("<=", ">") for c in conditions)
        # Whole-number features get whole-number bounds.
        for c in conditions:
            if CATALOGUE[c["field"]].type == "int":
                assert isinstance(c["value"], int)
    assert len({g.number for g in found.groups}) == 3


def _conditions(rule: dict) -> list[dict]:
    if "field" in rule:
        return [rule]
    return [c for part in rule.get("all", rule.get("any", [])) for c in _conditions(part)]


def test_a_missing_value_meets_no_condition_of_the_rule() -> None:
    raw = np.array([[1.0, np.nan], [1.0, 0.9], [1.0, 0.1]])
    names = ["loans_events_365d", "night_share_365d"]
    high = {"all": [{"field": "night_share_365d", "op": ">", "value": 0.5}]}
    low = {"all": [{"field": "night_share_365d", "op": "<=", "value": 0.5}]}
    assert rule_mask(high, raw, names).tolist() == [False, True, False]
    assert rule_mask(low, raw, names).tolist() == [False, False, True]
    either = {"any": [high, {"all": [{"field": "loans_events_365d", "op": ">", "value": 5}]}]}
    assert rule_mask(either, raw, names).tolist() == [False, True, False]


def test_groups_smaller_than_k_are_not_shown() -> None:
    table, truth = planted_table(outliers=3)
    found = discover(table, FEATURES, k=4, seed=0, min_group_size=5)
    assert found.suppressed == 3
    assert len(found.groups) == 3 and all(g.size >= 5 for g in found.groups)
    assert [found.labels[i] for i, t in enumerate(truth) if t == "outlier"] == [0, 0, 0]
    shown = discover(table, FEATURES, k=4, seed=0, min_group_size=3)
    assert shown.suppressed == 0 and sorted(g.size for g in shown.groups)[0] == 3


def test_groups_are_numbered_largest_first_and_the_run_is_repeatable() -> None:
    table, _ = planted_table(per_group=60)
    first = discover(table, FEATURES, k=3, seed=7)
    again = discover(table, FEATURES, k=3, seed=7)
    assert [g.size for g in first.groups] == sorted((g.size for g in first.groups), reverse=True)
    assert first.labels.tolist() == again.labels.tolist()
    assert first.patron_keys == table["patron_key"].to_pylist()


def test_what_discovery_refuses() -> None:
    table, _ = planted_table(per_group=1)
    with pytest.raises(DiscoveryError, match="too few"):
        discover(table, FEATURES, k=3)
    table, _ = planted_table(per_group=20)
    with pytest.raises(DiscoveryError, match="names: unknown features loans365"):
        discover(table, FEATURES, names=["loans365"])
    with pytest.raises(DiscoveryError, match="k: 1 groups"):
        discover(table, FEATURES, k=1)
    with pytest.raises(DiscoveryError, match="no numeric feature varies"):
        discover(table, FEATURES, names=["all_events_365d"])
