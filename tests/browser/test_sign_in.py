"""Two-step sign-in in a real browser: a front-desk librarian sets up an authenticator from the
QR page's key, keeps the recovery codes, signs out and back in with a fresh code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
from playwright.sync_api import expect

PASSWORD = "correct-horse-42"


def pass_second_factor(page: Any) -> None:
    """Do what the librarian's phone does: read the key off the set-up page (or, at the code
    step, use the key kept from set-up) and type the current code."""
    if "/accounts/mfa/setup/" in page.url:
        key = page.locator("code.secret").inner_text().replace(" ", "")
        page.context.totp_key = key
        page.fill("input[name=code]", pyotp.TOTP(key).now())
        page.click("main button[type=submit]")
        expect(page.locator("main h1")).to_contain_text("recovery codes")
        page.click("main a.btn.primary")
    else:
        key = page.context.totp_key
        page.fill("input[name=code]", pyotp.TOTP(key).at(time.time() + 30))
        page.click("main button[type=submit]")


def test_front_desk_sets_up_the_app_and_signs_in_with_codes(
    page: Any, make_staff: Callable[..., Any]
) -> None:
    make_staff("front_desk", username="li.na")
    page.goto(page.base_url + "/patrons/")
    page.fill("input[name=username]", "li.na")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")

    expect(page).to_have_url(re.compile(r"/accounts/mfa/setup/"))
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("nav.mainnav a")).to_have_count(0)  # nothing else opens yet
    key = page.locator("code.secret").inner_text().replace(" ", "")
    page.context.totp_key = key
    page.fill("input[name=code]", "000000" if pyotp.TOTP(key).now() != "000000" else "111111")
    page.click("main button[type=submit]")
    expect(page.locator(".field.invalid")).to_be_visible()

    page.fill("input[name=code]", pyotp.TOTP(key).now())
    page.click("main button[type=submit]")
    codes = page.locator(".recovery-codes code")
    expect(codes).to_have_count(10)
    page.click("main a.btn.primary")
    expect(page).to_have_url(re.compile(r"/patrons/$"))
    expect(page.locator("main h1")).to_contain_text("Patrons")

    page.click("header button:has-text('Sign out')")
    page.goto(page.base_url + "/accounts/login/")
    page.fill("input[name=username]", "li.na")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/mfa/"))
    pass_second_factor(page)
    expect(page.locator(".who")).to_contain_text("Li.Na")
    expect(page.locator("nav.mainnav")).to_contain_text("Patrons")
