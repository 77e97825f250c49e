"""A reviewer works through the queue of possible duplicates in a real browser: compares two
records side by side with the evidence, merges them, sees it on the patron page, and undoes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from libcrm.linkage.models import CandidateSource, MatchCandidate
from libcrm.patrons.models import Patron, PatronStatus
from tests.browser.test_console import sign_in

EVIDENCE = [
    {"comparison": "name", "level": "pinyin", "label_en": "same name in pinyin",
     "label_zh": "拼音姓名相同", "agrees": True, "weight": 11.2},
    {"comparison": "birth_year", "level": "exact", "label_en": "same birth year",
     "label_zh": "出生年份相同", "agrees": True, "weight": 4.1},
]  # fmt: skip


def test_reviewer_merges_a_pair_and_undoes_it(
    page: Any,
    make_staff: Callable[..., Any],
    make_patron: Callable[..., Any],
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    make_staff("user_relations", username="rel")
    desk = make_patron(name="欧阳婧萱", birth_year=1998, category="postgraduate")
    wechat = make_patron(name="Ouyang Jingxuan", birth_year=1998, category="postgraduate")
    left, right = sorted((desk, wechat), key=lambda p: p.pk)
    pair = MatchCandidate.objects.create(
        left=left, right=right, source=CandidateSource.LINKER, match_probability=0.97,
        match_weight=5.0, evidence=EVIDENCE,
    )  # fmt: skip

    sign_in(page, "rel")
    page.click("nav.mainnav >> text=Duplicates")
    expect(page.locator("main h1")).to_have_text("Possible duplicates")
    page.click(f"a[href='/linkage/pairs/{pair.pk}/']")
    expect(page.locator("table.side-by-side")).to_contain_text("欧阳婧萱")
    expect(page.locator("table.side-by-side")).to_contain_text("Ouyang Jingxuan")
    expect(page.locator("table.evidence tbody tr").first).to_contain_text("same name in pinyin")

    page.check("input[name=verdict][value=same]")
    page.check(f"input[name=survivor][value='{desk.pk}']")
    page.fill("textarea[name=note]", "same phone on the paper form")
    page.click("main form button[type=submit].primary")
    expect(page.locator(".messages")).to_contain_text("merged")
    assert Patron.objects.get(pk=wechat.pk).status == PatronStatus.MERGED

    page.goto(page.base_url + f"/patrons/{wechat.uuid}/")
    expect(page.locator(".alert")).to_contain_text("merged into another")
    page.click("text=See the merge")
    page.fill("textarea[name=reason]", "two people after all")
    page.click("button.danger")
    expect(page.locator(".messages")).to_contain_text("undone")
    expect(page).to_have_url(re.compile(r"/linkage/merges/\d+/"))
    assert Patron.objects.get(pk=wechat.pk).status == PatronStatus.ACTIVE
