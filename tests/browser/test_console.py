"""A librarian's day in a real browser: sign in, switch language, search, open, reveal, edit,
and find every step in the audit trail; Chinese browsers get Chinese; analysts see no one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

PASSWORD = "correct-horse-42"


def sign_in(page: Any, username: str) -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    if "/accounts/mfa/" in page.url:  # roles that see personal data: the second step
        from tests.browser.test_sign_in import pass_second_factor

        pass_second_factor(page)
    expect(page.locator(".who")).to_contain_text(re.compile(username, re.IGNORECASE))


def test_librarian_searches_opens_reveals_edits_and_sees_the_audit(
    page: Any, make_staff: Callable[..., Any], make_patron: Callable[..., Any]
) -> None:
    make_staff("administrator", username="ada")
    patron = make_patron(
        name="李娜",
        category="postgraduate",
        birth_year=1999,
        research_specialty="知识图谱",
        identifiers=[
            {"kind": "library_card", "value": "L2024001"},
            {"kind": "phone", "value": "139 1234 5678"},
        ],
    )
    make_patron(name="王芳", category="resident")

    sign_in(page, "ada")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.click("button[name=language][value=zh-hans]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("nav.mainnav")).to_contain_text("读者")

    page.click("nav.mainnav >> text=读者")
    page.fill("input[name=q]", "139-1234-5678")
    page.click("form[role=search] button[type=submit]")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("李娜")
    expect(page.locator("body")).not_to_contain_text("王芳")

    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(rf"/patrons/{patron.uuid}/$"))
    expect(page.locator("main")).to_contain_text("知识图谱")
    expect(page.locator("main")).to_contain_text("+86139••••5678")
    expect(page.locator("main")).not_to_contain_text("+8613912345678")

    phone_row = page.locator("tr", has_text="+86139••••5678")
    phone_row.locator("button", has_text="显示完整").click()
    expect(page.locator("main")).to_contain_text("+8613912345678")

    page.click("a.btn >> text=编辑")
    page.fill("input[name=research_specialty]", "图神经网络")
    page.click("main button[type=submit] >> text=保存修改")
    expect(page).to_have_url(re.compile(rf"/patrons/{patron.uuid}/$"))
    expect(page.locator("main")).to_contain_text("图神经网络")

    page.click("nav.mainnav >> text=审计日志")
    trail = page.locator("main table")
    for action in ("查看", "显示", "修改"):
        expect(trail).to_contain_text(action)
    expect(trail).to_contain_text("ada")
    expect(trail).to_contain_text(patron.patron_key)


def test_a_browser_preferring_chinese_gets_chinese(chromium: Any, live_server: Any) -> None:
    context = chromium.new_context(locale="zh-CN")
    try:
        tab = context.new_page()
        tab.goto(live_server.url + "/accounts/login/")
        expect(tab.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(tab.locator("main button[type=submit]")).to_have_text("登录")
    finally:
        context.close()


def test_an_analyst_sees_aggregates_but_no_patron(
    page: Any, make_staff: Callable[..., Any], make_patron: Callable[..., Any]
) -> None:
    make_staff("analyst", username="ana")
    for n in range(6):
        make_patron(name=f"赵{n}号", category="undergraduate")
    sign_in(page, "ana")
    expect(page.locator("main")).to_contain_text("6")
    expect(page.locator("main")).not_to_contain_text("赵")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Patrons")
    response = page.goto(page.base_url + "/patrons/")
    assert response.status == 403
