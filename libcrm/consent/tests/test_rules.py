"""The consent rules without a database."""

from __future__ import annotations

from libcrm.consent import rules


def test_only_adult_analytics_applies_without_a_choice() -> None:
    assert rules.default_for("analytics", child=False) is True
    assert rules.default_for("analytics", child=True) is False
    for purpose in ("personalisation", "outreach_email", "loan_history", "research"):
        assert rules.default_for(purpose, child=False) is False
    assert rules.default_for("analytics", child=False, opt_out=False) is False


def test_child_by_age_or_by_category_when_the_age_is_unknown() -> None:
    assert rules.is_child(13, "resident") is True
    assert rules.is_child(14, "child") is False
    assert rules.is_child(None, "child") is True
    assert rules.is_child(None, "resident") is False


def test_merge_keeps_the_most_restrictive_explicit_choice() -> None:
    assert rules.merged_state([True, False]) is False
    assert rules.merged_state([True, None]) is True
    assert rules.merged_state([None, False]) is False
    assert rules.merged_state([None, None]) is None
