"""The rule checker: every kind of bad input is refused at its path, in both languages."""

from __future__ import annotations

import pytest

from libcrm.features.definitions import FEATURES
from libcrm.segments.rules import (
    InvalidRule,
    Limits,
    RuleError,
    catalogue_of,
    check,
    effective_rule,
    validate,
)
from libcrm.segments.tests.profiles import CATALOGUE


def leaf(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


def problems(rule, resolve=None, **kwargs) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in validate(rule, CATALOGUE, resolve, **kwargs)]


GOOD = leaf("loans_365d", ">", 5)

BAD = [
    # (rule, [(path, code), ...])
    ([GOOD], [("", "not_condition")]),
    ({}, [("", "empty_condition")]),
    ({"all": [GOOD], "any": [GOOD]}, [("", "ambiguous_condition")]),
    ({"all": GOOD}, [("/all", "not_list")]),
    ({"any": []}, [("/any", "empty_group")]),
    ({"all": [GOOD, GOOD, {"field": "loans_365d", "op": ">", "value": 1, "why": 1}]},
     [("/all/2/why", "unknown_key")]),
    ({"all": [GOOD, GOOD, leaf("loans_365d", ">", "abc")]}, [("/all/2/value", "type_mismatch")]),
    (leaf("category", "=", 5), [("/value", "type_mismatch")]),
    (leaf("consents_to_email", "=", "yes"), [("/value", "type_mismatch")]),
    (leaf("loans_365d", "=", True), [("/value", "type_mismatch")]),
    (leaf("loans_365d", "=", 2.5), [("/value", "not_whole")]),
    (leaf("night_share_365d", "<", float("inf")), [("/value", "out_of_range")]),
    (leaf("night_share_365d", "<", float("nan")), [("/value", "out_of_range")]),
    (leaf("loans_365d", ">", 2**70), [("/value", "out_of_range")]),
    (leaf("category", "=", "x" * 1001), [("/value", "value_too_long")]),
    ({"field": "category", "op": "=", "value": None}, [("/value", "type_mismatch")]),
    (leaf("loans_356d", ">", 1), [("/field", "unknown_field")]),
    (leaf(7, ">", 1), [("/field", "unknown_field")]),
    (leaf("loans_365d", "~", 1), [("/op", "unknown_op")]),
    (leaf("category", "<", "m"), [("/op", "op_not_for_type")]),
    (leaf("loans_365d", "contains", 1), [("/op", "op_not_for_type")]),
    (leaf("loans_365d", "within", {"days": 3}), [("/op", "op_not_for_type")]),
    ({"field": "loans_365d", "op": ">"}, [("/value", "missing_value")]),
    (leaf("loans_365d", "is_set", 3), [("/value", "unexpected_value")]),
    (leaf("loans_365d", "between", [1]), [("/value", "bad_shape")]),
    (leaf("loans_365d", "between", [9, 1]), [("/value", "range_reversed")]),
    (leaf("loans_365d", "between", [1, "x"]), [("/value/1", "type_mismatch")]),
    (leaf("last_seen", "between", ["-10d", "-30d"]), [("/value", "range_reversed")]),
    (leaf("last_seen", "between", ["2026-02-01", "2026-01-01"]), [("/value", "range_reversed")]),
    (leaf("last_seen", ">", "last tuesday"), [("/value", "bad_date")]),
    (leaf("loans_365d", "in", 3), [("/value", "bad_shape")]),
    (leaf("loans_365d", "in", []), [("/value", "empty_list")]),
    (leaf("category", "in", ["a", 2]), [("/value/1", "type_mismatch")]),
    (leaf("loans_365d", "in", list(range(1001))), [("/value", "list_too_long")]),
    (leaf("top_subjects_365d", "contains", ["T"]), [("/value", "type_mismatch")]),
    (leaf("last_seen", "within", 30), [("/value", "bad_shape")]),
    (leaf("last_seen", "within", {"days": 0}), [("/value/days", "bad_days")]),
    (leaf("last_seen", "within", {"days": 3651}), [("/value/days", "bad_days")]),
    (leaf("last_seen", "within", {"days": "30"}), [("/value/days", "bad_days")]),
    (leaf("last_seen", "in_window", {"from": "-30d", "to": "-90d"}),
     [("/value", "window_reversed")]),
    (leaf("last_seen", "in_window", {"to": "-30d"}), [("/value", "window_open")]),
    (leaf("last_seen", "in_window", {"from": "-30d"}), [("/value", "window_open")]),
    (leaf("last_seen", "in_window", {"from": "-4000d", "to": "0d"}),
     [("/value", "window_too_long")]),
    (leaf("last_seen", "in_window", {"from": "-3 months", "to": "0d"}),
     [("/value/from", "bad_offset")]),
    (leaf("last_seen", "in_window", {"from": "-3d", "to": "0d", "step": 1}),
     [("/value/step", "unknown_key")]),
    ({"segment": 3}, [("/segment", "bad_slug")]),
    ({"segment": "nobody"}, [("/segment", "unknown_segment")]),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_at_its_path(rule, expected) -> None:
    assert problems(rule) == expected


def test_all_problems_are_reported_at_once() -> None:
    rule = {
        "any": [
            leaf("loans_365d", ">", "abc"),
            {"not": leaf("categroy", "=", "x")},
            leaf("last_seen", "in_window", {"from": "-1d", "to": "-2d"}),
        ]
    }
    assert problems(rule) == [
        ("/any/0/value", "type_mismatch"),
        ("/any/1/not/field", "unknown_field"),
        ("/any/2/value", "window_reversed"),
    ]


def test_messages_name_the_part_in_english_and_chinese() -> None:
    [error] = validate({"all": [GOOD, GOOD, leaf("loans_365d", ">", "abc")]}, CATALOGUE)
    assert error.message() == '/all/2/value: "abc" is text but loans_365d is a whole number'
    assert error.message("zh") == '/all/2/value: "abc" 是文本，但 loans_365d 是整数'
    [error] = validate(leaf("loans365d", ">", 1), CATALOGUE)
    assert error.message() == '/field: unknown field "loans365d"; did you mean loans_365d?'
    assert "是否想用 loans_365d" in error.message("zh")
    [error] = validate(leaf("last_seen", "in_window", {"from": "-30d", "to": "-90d"}), CATALOGUE)
    assert error.message() == "/value: the window ends (-90d) before it starts (-30d)"
    assert error.message("zh") == "/value: 时间窗的结束（-90d）早于开始（-30d）"
    assert error.as_dict("zh")["message"] == "时间窗的结束（-90d）早于开始（-30d）"


def test_every_code_has_both_languages() -> None:
    from libcrm.segments.messages import MESSAGES

    for code, (en, zh) in MESSAGES.items():
        assert en and zh and en != zh, code


def test_a_cycle_between_segments_is_refused() -> None:
    rules = {
        "a": {"all": [GOOD, {"segment": "b"}]},
        "b": {"any": [{"segment": "c"}]},
        "c": {"not": {"segment": "a"}},
    }
    errors = validate({"segment": "a"}, CATALOGUE, rules.get, slug="x")
    assert [(e.path, e.code, e.params["cycle"]) for e in errors] == [
        ("/segment", "cycle", "a → b → c → a")
    ]
    # Saving "c" with a rule that refers back to itself through "a" and "b".
    errors = validate({"not": {"segment": "a"}}, CATALOGUE, rules.get, slug="c")
    assert [(e.path, e.code, e.params["cycle"]) for e in errors] == [
        ("/not/segment", "cycle", "c → a → b → c")
    ]
    assert "分群之间循环引用：c → a → b → c" in errors[0].message("zh")
    # A segment naming itself.
    errors = validate({"all": [GOOD, {"segment": "me"}]}, CATALOGUE, {"me": GOOD}.get, slug="me")
    assert [(e.path, e.code) for e in errors] == [("/all/1/segment", "cycle")]


def test_a_cycle_through_a_parent_is_refused() -> None:
    # "cs" sits under "first-year"; making "first-year" a child of "cs" closes a loop.
    rules = {"cs": effective_rule(GOOD, "first-year"), "first-year": GOOD}
    errors = validate(GOOD, CATALOGUE, rules.get, slug="first-year", parent="cs")
    assert [(e.path, e.code, e.params["cycle"]) for e in errors] == [
        ("parent", "cycle", "first-year → cs → first-year")
    ]
    assert validate(GOOD, CATALOGUE, rules.get, slug="cs", parent="first-year") == []
    assert [(e.path, e.code) for e in validate(GOOD, CATALOGUE, rules.get, parent="zz")] == [
        ("parent", "unknown_segment")
    ]


def test_shared_references_without_a_loop_are_fine() -> None:
    rules = {"base": GOOD, "left": {"segment": "base"}, "right": {"segment": "base"}}
    assert (
        validate({"all": [{"segment": "left"}, {"segment": "right"}]}, CATALOGUE, rules.get) == []
    )


def test_a_broken_referenced_segment_is_named() -> None:
    rules = {"old": leaf("retired_feature", "=", 1)}
    [error] = validate({"segment": "old"}, CATALOGUE, rules.get)
    assert (error.path, error.code, error.params["slug"]) == ("/segment", "segment_invalid", "old")
    assert "retired_feature" in error.message() and "未知字段" in error.message("zh")


def test_depth_is_limited() -> None:
    rule = GOOD
    for _ in range(8):
        rule = {"not": rule}
    assert problems(rule) == []
    assert problems({"all": [rule]}) == [("/all/0/not/not/not/not/not/not/not", "too_deep")]


def test_depth_counts_referenced_segments() -> None:
    deep = GOOD
    for _ in range(6):
        deep = {"not": deep}
    rules = {"deep": deep}
    assert problems({"all": [{"segment": "deep"}]}, rules.get) == []
    assert problems({"all": [{"all": [{"all": [{"segment": "deep"}]}]}]}, rules.get) == [
        ("/all/0/all/0/all/0/segment", "too_deep")
    ]


def test_the_number_of_conditions_is_limited() -> None:
    assert problems({"all": [GOOD] * 64}) == []
    assert problems({"all": [GOOD] * 65}) == [("/all/64", "too_many_conditions")]
    # Tripling references: 3**7 conditions once expanded are refused quickly.
    rules = {f"s{i}": {"all": [{"segment": f"s{i + 1}"}] * 3} for i in range(7)}
    rules["s7"] = GOOD
    assert problems({"segment": "s0"}, rules.get) == [("/segment", "too_many_conditions")]
    assert problems({"all": [GOOD] * 10}, limits=Limits(max_conditions=5)) == [
        ("/all/5", "too_many_conditions")
    ]


def test_check_raises_with_every_error() -> None:
    with pytest.raises(InvalidRule) as raised:
        check({"all": [leaf("nope", "=", 1), leaf("loans_365d", "=", "x")]}, CATALOGUE)
    assert [e.path for e in raised.value.errors] == ["/all/0/field", "/all/1/value"]
    assert "/all/0/field" in str(raised.value)
    assert isinstance(raised.value.errors[0], RuleError)


def test_the_feature_catalogue_is_a_catalogue() -> None:
    catalogue = catalogue_of(FEATURES)
    assert catalogue["loans_events_365d"].type == "int"
    assert catalogue["top_subjects_365d"].type == "list"
    assert catalogue["last_seen"].label_zh == "最近活动日期"
    rule = {"all": [leaf("loans_events_365d", ">=", 3), leaf("last_seen", "within", {"days": 90}),
                    leaf("top_subjects_365d", "contains", "T")]}  # fmt: skip
    assert validate(rule, catalogue) == []
    [error] = validate(leaf("loans_365d", ">", 1), catalogue)
    assert error.params["suggestion"] is not None
