"""Screenshots of the demo for the README: `libcrm demo` and `libcrm serve` first, then

    .venv/bin/python tools/screenshots.py [--base http://127.0.0.1:8000] [--out docs/screenshots]

Signs in as the demo administrator (published password and authenticator key) in Debian's
Chromium and saves each page in Chinese and English. Only demo data is ever photographed.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pyotp
from playwright.sync_api import sync_playwright

DEMO_PASSWORD = "libcrm-demo-2026"  # noqa: S105 (the demo's published password)
DEMO_KEY = "LIBCRMDEMOTWOFACTORKEYFORTRYINGX"  # the demo's published authenticator key


def sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.fill("input[name=code]", pyotp.TOTP(DEMO_KEY).now())
    page.click("main button[type=submit]")
    page.wait_for_selector(".who")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        for lang, locale in (("zh", "zh-CN"), ("en", "en-GB")):
            context = browser.new_context(locale=locale, viewport={"width": 1360, "height": 900})
            page = context.new_page()
            sign_in(page, args.base)
            shots = {"duplicates": "/linkage/", "usage": "/insight/", "segments": "/segments/"}
            page.goto(args.base + "/linkage/")
            first = page.locator("table.candidates a.btn").first
            if first.count():
                shots["pair"] = first.get_attribute("href") or ""
            page.goto(args.base + "/segments/")
            link = page.locator("main table a[href^='/segments/']").first
            if link.count():
                shots["segment"] = link.get_attribute("href") or ""
            if "pair" in shots:  # a patron with a history: the left record of the first pair
                page.goto(args.base + shots["pair"])
                patron = page.locator("table.side-by-side thead a").first
                shots["persona"] = (patron.get_attribute("href") or "") + "#persona"
            for name, path in shots.items():
                page.goto(args.base + path)
                page.wait_for_load_state("networkidle")
                target = args.out / f"{name}-{lang}.png"
                page.screenshot(path=str(target), full_page=name not in {"persona"})
                print(target, re.sub(r"\s+", " ", page.title()))
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
