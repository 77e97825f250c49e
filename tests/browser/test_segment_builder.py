"""The visual rule builder in a real browser: a librarian builds a two-condition rule with the
mouse, sees the JSON follow and the live count appear, edits the JSON by keyboard and sees the
builder follow, saves — and the page raises no content-policy violation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from libcrm.features.services import feature_file
from libcrm.patrons.models import Patron
from libcrm.segments.models import Segment
from libcrm.segments.tests.test_services import _provenance, profile
from tests.browser.test_console import sign_in


def test_build_a_rule_with_the_builder_count_it_and_save(
    page: Any,
    make_staff: Callable[..., Any],
    make_patron: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.LIBCRM_AUDIT_CHECKPOINT = tmp_path / "checkpoint.json"
    settings.LIBCRM_FEATURES_DIR = tmp_path / "features"
    settings.LIBCRM_DATA_DIR = tmp_path / "data"
    settings.LIBCRM_MIN_GROUP_SIZE = 2
    feature_file().replace(profile(), _provenance())
    for key in ("k1", "k2", "k3", "k4"):  # the profile has a row per active registry patron
        Patron.objects.filter(pk=make_patron().pk).update(patron_key=key)
    make_staff("analyst", username="ana")
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, "ana")
    page.goto(page.base_url + "/segments/new/")
    expect(page.locator("#rule-builder")).to_be_visible()
    page.fill("input[name=slug]", "recent-readers")
    page.fill("input[name=name_en]", "Recent readers")
    page.fill("input[name=name_zh]", "近期读者")

    page.click("#rb-r-add")
    page.select_option("#rb-r-0-field", "loans_events_365d")
    page.select_option("#rb-r-0-op", ">=")
    page.fill("#rb-r-0-v", "3")
    page.click("#rb-r-add")
    page.select_option("#rb-r-1-field", "last_seen")
    op = page.locator("#rb-r-1-op option")
    assert "within" in op.evaluate_all("options => options.map(o => o.value)")
    assert "contains" not in op.evaluate_all("options => options.map(o => o.value)")
    page.select_option("#rb-r-1-op", "within")
    page.fill("#rb-r-1-v", "30")

    expected = {
        "all": [
            {"field": "loans_events_365d", "op": ">=", "value": 3},
            {"field": "last_seen", "op": "within", "value": {"days": 30}},
        ]
    }
    assert json.loads(page.input_value("#id_rule")) == expected
    # k3 and k4 borrowed three or more and came in during the last 30 days
    expect(page.locator("#rule-count")).to_contain_text(re.compile(r"\b2\b.*patrons match"))

    # The JSON is still editable by keyboard, and the builder follows it.
    expected["all"][0]["value"] = 20
    page.fill("#id_rule", json.dumps(expected))
    expect(page.locator("#rb-r-0-v")).to_have_value("20")
    expect(page.locator("#rule-count")).to_contain_text("fewer than 2")
    page.fill("#id_rule", "{not json")
    expect(page.locator(".rule-builder-notice")).to_be_visible()
    expected["all"][0]["value"] = 3
    page.fill("#id_rule", json.dumps(expected))
    expect(page.locator(".rule-builder-notice")).to_be_hidden()
    expect(page.locator("#rb-r-0-v")).to_have_value("3")

    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/segments/recent-readers/$"))
    assert Segment.objects.get(slug="recent-readers").current_version.rule == expected
    assert violations == []


def test_the_builder_shows_every_kind_of_node_and_keeps_the_rule_as_it_was(
    page: Any, make_staff: Callable[..., Any], settings: Any, tmp_path: Path, actor: Any
) -> None:
    from libcrm.segments.services import save_segment

    settings.LIBCRM_AUDIT_CHECKPOINT = tmp_path / "checkpoint.json"
    settings.LIBCRM_FEATURES_DIR = tmp_path / "features"
    readers = {"field": "loans_events_365d", "op": ">=", "value": 3}
    save_segment(actor, slug="readers", name_en="Readers", name_zh="读者", rule=readers)
    rule = {
        "all": [
            {"segment": "readers"},
            {"not": {"field": "night_share_365d", "op": "between", "value": [0.25, 0.5]}},
            {"field": "last_seen", "op": "in_window", "value": {"from": "-90d", "to": "-30d"}},
            {
                "any": [
                    {"field": "loans_events_365d", "op": "in", "value": [1, 2, 3]},
                    {"field": "top_subjects_365d", "op": "contains", "value": "T"},
                    {"field": "digital_events_30d", "op": "is_set"},
                ]
            },
        ]
    }
    save_segment(actor, slug="mixed", name_en="Mixed", name_zh="混合", rule=rule)
    make_staff("analyst", username="ana")
    sign_in(page, "ana")
    page.goto(page.base_url + "/segments/mixed/edit/")
    expect(page.locator("#rule-builder")).to_be_visible()
    expect(page.locator(".rule-builder-notice")).to_be_hidden()
    expect(page.locator("#rb-r-0-segment")).to_have_value("readers")
    expect(page.locator("#rb-r-1-not")).to_be_checked()
    expect(page.locator("#rb-r-1-v1")).to_have_value("0.5")
    expect(page.locator("#rb-r-2-from")).to_have_value("-90d")
    expect(page.locator("#rb-r-3-kind")).to_have_value("any")
    expect(page.locator("#rb-r-3-0-v")).to_have_value("1, 2, 3")
    expect(page.locator("#rb-r-3-2-v")).to_have_count(0)  # is_set takes no value

    # A change and its undoing leave the rule exactly as it was.
    page.uncheck("#rb-r-1-not")
    assert "not" not in json.loads(page.input_value("#id_rule"))["all"][1]
    page.check("#rb-r-1-not")
    assert json.loads(page.input_value("#id_rule")) == rule

    # Removing the nested group's last condition, then adding a condition to it.
    page.click("#rb-r-3-2-remove")
    page.click("#rb-r-3-add")
    added = json.loads(page.input_value("#id_rule"))["all"][3]["any"][2]
    assert set(added) >= {"field", "op"}
    expect(page.locator("#rule-count")).not_to_be_empty()
