"""Search terms for patrons' names, so that encrypted names stay findable by exact match.

A name yields a handful of normalised terms: the whole name without spaces, each word of a
multi-word name, and for names in 汉字 the toneless pinyin (张伟 → "zhangwei"), so a librarian
who types "Zhang Wei" finds 张伟. Only keyed digests of these terms are stored.
"""

from __future__ import annotations

import re
import unicodedata

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACES = re.compile(r"[\s·•・.\-]+")
_APOSTROPHES = re.compile(r"['’`]")


def normalise_name(name: str) -> str:
    folded = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", name).casefold())
    return _SPACES.sub(" ", folded).strip()


def name_terms(name: str) -> set[str]:
    normal = normalise_name(name)
    if not normal:
        return set()
    words = normal.split(" ")
    terms = {normal.replace(" ", "")}
    if len(words) > 1:
        terms.update(words)
    if _HAN.search(normal):
        terms.add("".join(lazy_pinyin(normal.replace(" ", ""), style=Style.NORMAL)))
    return terms


def query_term(query: str) -> str:
    """The term to look up for what a librarian typed: 张伟 finds only 张伟, "zhang wei" finds
    张伟 and 章伟 alike, "smith" finds every Smith."""
    return normalise_name(query).replace(" ", "")
