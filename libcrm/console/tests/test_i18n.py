"""Simplified Chinese and English: the switcher, the browser's preference, a complete catalogue."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polib
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_switcher_sets_chinese_and_back(staff_client: Callable[[str], Any]) -> None:
    client = staff_client("front_desk")
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/patrons/"})
    assert response.status_code == 302
    assert response["Location"] == "/patrons/"
    page = client.get("/patrons/").text
    assert '<html lang="zh-hans">' in page
    assert "读者" in page and "退出登录" in page
    assert "Sign out" not in page

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").text
    assert '<html lang="en">' in page
    assert "Sign out" in page


def test_a_browser_preferring_chinese_gets_chinese(staff_client: Callable[[str], Any]) -> None:
    client = staff_client("user_relations")
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.6").text
    assert '<html lang="zh-hans">' in page
    assert "概览" in page


def test_a_browser_preferring_english_gets_english(staff_client: Callable[[str], Any]) -> None:
    page = staff_client("user_relations").get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en").text
    assert '<html lang="en">' in page
    assert "Overview" in page


def test_the_chinese_catalogue_is_complete() -> None:
    catalogue = polib.pofile(str(CATALOGUE))
    assert len(catalogue) > 100
    assert not catalogue.fuzzy_entries(), [e.msgid for e in catalogue.fuzzy_entries()]
    assert not catalogue.untranslated_entries(), [e.msgid for e in catalogue.untranslated_entries()]
    assert CATALOGUE.with_suffix(".mo").stat().st_mtime >= CATALOGUE.stat().st_mtime - 1


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\{\s*(\w+)\s*\}\}|%[sd]")


def test_translations_keep_every_placeholder() -> None:
    for entry in polib.pofile(str(CATALOGUE)).translated_entries():
        pairs = [(entry.msgid, entry.msgstr)]
        if entry.msgid_plural:
            pairs = [(entry.msgid_plural, text) for text in entry.msgstr_plural.values()]
        for source, translation in pairs:
            assert sorted(PLACEHOLDER.findall(source)) == sorted(
                PLACEHOLDER.findall(translation)
            ), entry.msgid
