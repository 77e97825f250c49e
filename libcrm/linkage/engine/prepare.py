"""From the registry's raw patron records to the columns the linkage model compares.

The input (``RAW_SCHEMA``) is what :func:`libcrm.linkage.records.patron_records` reads from the
database, or what a benchmark builds from the world's generators: one row per patron record
with its name as written, birth year, normalised phone numbers and e-mail addresses, department,
category and the catalogue items the patron used. This module derives the comparison columns:

* ``name_han`` — the name in 汉字 (NFKC, spaces removed), null for names in Latin letters;
* ``name_py`` — the name spelled in toneless pinyin / folded Latin letters, its words sorted,
  so that 张伟, "Zhang Wei", "ZHANG Wei", "Wei Zhang" and 张炜 (a homophone typo) all give
  ``wei zhang``; ``family_py`` — the family name's spelling (for blocking); ``name_count`` —
  how many records of this run share the spelling (a name only two records hold is far
  stronger evidence than 王伟, which dozens hold);
* ``name_letters`` — the letters of ``name_py`` in alphabetical order: the same for spellings
  that differ only in spacing ("Ou Yang Jing Xuan", "Ouyang Jingxuan", 欧阳静轩) or in two
  swapped letters ("Arjun Ptael"), which ``name_py`` and the family name tell apart (for
  blocking, and a comparison level of its own);
* ``name_keys`` — ``name_py`` and, for a surname read two ways (覃 Qin or Tan, 曾 Zeng or
  Ceng), the spelling with the other reading (for blocking, and a level of its own);
* ``phones`` / ``phone_tails`` (last 4 digits) / ``phone_heads`` (first 7 digits of a mainland
  mobile: the operator and area block), ``emails`` / ``email_locals`` (mailbox names, leaving
  out those that are nothing but the holder's name: namesakes choose them too) /
  ``email_domains``;
* ``gender`` (undisclosed → null), ``department``, ``home_branch``, ``category``,
  ``birth_year``, ``items`` and ``unique_kinds`` (which of campus ID / national ID the record
  holds — never the value), passed through (empty → null).

Pure: no Django. Decrypted values only ever live in these in-memory tables.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import pyarrow as pa
from pypinyin import Style, lazy_pinyin

RAW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("birth_year", pa.int32()),
        pa.field("gender", pa.string()),
        pa.field("category", pa.string()),
        pa.field("department", pa.string()),
        pa.field("home_branch", pa.string()),
        pa.field("phones", pa.list_(pa.string())),
        pa.field("emails", pa.list_(pa.string())),
        pa.field("items", pa.list_(pa.string())),
        pa.field("unique_kinds", pa.list_(pa.string())),
    ]
)
"""The engine's input: ``id`` is the Patron primary key; lists may be empty or null.
``unique_kinds`` may be left out (read as empty)."""

#: Columns a caller may leave out of the raw table (older callers, hand-made tables).
OPTIONAL_COLUMNS = ("unique_kinds",)

PREPARED_SCHEMA = pa.schema(
    [
        pa.field("unique_id", pa.int64(), nullable=False),
        pa.field("name_han", pa.string()),
        pa.field("name_py", pa.string()),
        pa.field("family_py", pa.string()),
        pa.field("name_letters", pa.string()),
        pa.field("name_keys", pa.list_(pa.string())),
        pa.field("name_count", pa.int32()),
        pa.field("birth_year", pa.int32()),
        pa.field("gender", pa.string()),
        pa.field("category", pa.string()),
        pa.field("department", pa.string()),
        pa.field("home_branch", pa.string()),
        pa.field("phones", pa.list_(pa.string())),
        pa.field("phone_tails", pa.list_(pa.string())),
        pa.field("phone_heads", pa.list_(pa.string())),
        pa.field("emails", pa.list_(pa.string())),
        pa.field("email_locals", pa.list_(pa.string())),
        pa.field("email_domains", pa.list_(pa.string())),
        pa.field("items", pa.list_(pa.string())),
        pa.field("unique_kinds", pa.list_(pa.string())),
    ]
)

MAX_ITEMS = 40  # items kept per record: enough to show overlap, cheap to intersect
# An item more records used than max(MIN_COMMON_ITEM_USERS, records / COMMON_ITEM_SHARE) is
# left out: two children who both borrowed the popular picture books are not one child.
MIN_COMMON_ITEM_USERS = 10
COMMON_ITEM_SHARE = 500
RARE_NAME_COUNT = 3  # a spelling held by at most this many records is "rare"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_HAN = re.compile(r"[^\u3400-\u9fff\uf900-\ufaff]")
_WORD_SEPARATORS = re.compile(r"[\s·•・.\-_,，]+")
_APOSTROPHES = re.compile(r"['’`]")
COMPOUND_SURNAMES = frozenset({"欧阳", "司马", "上官", "诸葛", "司徒", "东方", "皇甫", "慕容"})
# Surnames read differently from the character's everyday reading (曾 zeng, not ceng).
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "尉迟": "yuchi", "万俟": "moqi", "乐": "yue", "覃": "qin", "缪": "miao", "盖": "ge",
}  # fmt: skip


# Compound surnames as spelt in pinyin, for a name typed one syllable a word ("Ou Yang Jing Xuan").
COMPOUND_SURNAME_SPELLINGS = frozenset(
    {"ouyang", "sima", "shangguan", "zhuge", "situ", "dongfang", "huangfu", "murong", "yuchi",
     "moqi"}
)  # fmt: skip


@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable (ü written u), from pypinyin's dictionary; read once."""
    from pypinyin.pinyin_dict import pinyin_dict

    found = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = _ascii_fold(reading)
            if plain and any(vowel in plain for vowel in "aeiou"):
                found.add(plain)
    return frozenset(found)


def _joined_syllables(words: list[str], capitals: list[str]) -> list[str] | None:
    """A Chinese name typed one pinyin syllable a word ("Ou Yang Jing Xuan", "ZHANG Jing
    Xuan") as the family name and the given name ["ouyang", "jingxuan"], the way it is
    otherwise written; None when the words are not all pinyin syllables or are only two."""
    if len(words) < 3 or not all(w in pinyin_syllables() for w in words):
        return None
    if capitals and len(capitals) < len(words):
        family = "".join(capitals)
        given = "".join(w for w in words if w not in capitals)
    elif "".join(words[:2]) in COMPOUND_SURNAME_SPELLINGS:
        family, given = "".join(words[:2]), "".join(words[2:])
    else:
        family, given = words[0], "".join(words[1:])
    return [family, given]


# Surnames people also spell with another reading: the character's everyday reading (曾 ceng,
# 单 dan) or a second surname reading (覃 is Qin in some families, Tan in others).
SURNAME_OTHER_READINGS = {
    "覃": "tan", "曾": "ceng", "单": "dan", "解": "jie", "仇": "chou", "区": "qu", "查": "cha",
    "朴": "pu", "乐": "le", "缪": "mou", "盖": "gai", "尉迟": "weichi",
}  # fmt: skip


def other_spelling(name: str | None) -> str | None:
    """``name_py`` of a 汉字 name with its surname read the other way (覃晶 → "jing tan"
    beside "jing qin"), None when the surname has no other reading or the name is in Latin
    letters."""
    return _other_spelling(*split_name(name))


def _other_spelling(han: str | None, py: str | None, family: str | None) -> str | None:
    if not han or not py or not family:
        return None
    surname = han[: 2 if han[:2] in SURNAME_OTHER_READINGS else 1]
    other = SURNAME_OTHER_READINGS.get(surname)
    if other is None:
        return None
    words = py.split()
    if family in words:
        words.remove(family)
    return " ".join(sorted([*words, other]))


def _ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii()).lower()


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.NORMAL))


def split_name(name: str | None) -> tuple[str | None, str | None, str | None]:
    """(name in 汉字, sorted pinyin/Latin words, family name spelling) of one name.

    A 汉字 name is split into surname (compound surnames included) and given name, each spelled
    in pinyin (the surname with its surname reading). A Latin name's family name is the word
    written in capitals ("ZHANG Wei"), else its first word when it is one of two; the words are
    sorted for ``name_py`` anyway, so the order people type them in does not matter.
    """
    if not name:
        return None, None, None
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", name)).strip()
    if not text:
        return None, None, None
    if _HAN.search(text):
        han = _NOT_HAN.sub("", text)
        size = 2 if han[:2] in COMPOUND_SURNAMES or han[:2] in SURNAME_READINGS else 1
        family, given = han[:size], han[size:]
        family_py = SURNAME_READINGS.get(family) or _pinyin(family)
        given_py = _pinyin(given)
        words = sorted(w for w in (family_py, given_py) if w)
        return han, " ".join(words) or None, family_py or None
    words = [w for w in (_ascii_fold(p) for p in _WORD_SEPARATORS.split(text)) if w]
    words = ["".join(ch for ch in w if ch.isalnum()) for w in words]
    words = [w for w in words if w]
    if not words:
        return None, None, None
    raw = [p for p in _WORD_SEPARATORS.split(text) if p]
    capitals = [_ascii_fold(p) for p in raw if len(p) > 1 and p.isupper() and not p.islower()]
    joined = _joined_syllables(words, capitals)
    if joined is not None:
        return None, " ".join(sorted(joined)), joined[0]
    if len(capitals) == 1:
        family = "".join(ch for ch in capitals[0] if ch.isalnum())
    else:
        family = words[-1] if len(words) != 2 else words[0]
    return None, " ".join(sorted(words)), family or None


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _phone_parts(phones: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    full, tails, heads = set(), set(), set()
    for phone in phones:
        digits = _digits(phone)
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) < 6:
            continue
        full.add(digits)
        tails.add(digits[-4:])
        if len(digits) == 11 and digits.startswith("1"):
            heads.add(digits[:7])
    return sorted(full), sorted(tails), sorted(heads)


def _name_only(local: str, name_py: str | None) -> bool:
    """Whether a mailbox name is nothing but the holder's name ("kenji.tanaka", "wei_zhang"):
    namesakes pick those on other mail services too, so it is no evidence of one person."""
    if not name_py:
        return False
    letters = "".join(ch for ch in local if ch.isalnum())
    words = name_py.split()
    return letters in ("".join(words), "".join(reversed(words)))


def _email_parts(
    emails: Iterable[str], name_py: str | None = None
) -> tuple[list[str], list[str], list[str]]:
    full, locals_, domains = set(), set(), set()
    for email in emails:
        address = email.strip().lower()
        local, at, domain = address.partition("@")
        if not at or not local or not domain:
            continue
        full.add(address)
        mailbox = local.split("+", 1)[0]
        if not _name_only(mailbox, name_py):
            locals_.add(mailbox)
        domains.add(domain)
    return sorted(full), sorted(locals_), sorted(domains)


def _or_none(values: list[str]) -> list[str] | None:
    return values or None


def _blank_to_none(value: str | None) -> str | None:
    return value if value else None


def prepare_records(raw: pa.Table) -> pa.Table:
    """The comparison columns for every raw record (see the module docstring).

    Raises :class:`ValueError` naming the column when ``raw`` lacks one of ``RAW_SCHEMA``'s
    columns or repeats an id.
    """
    for name in OPTIONAL_COLUMNS:
        if name not in raw.column_names:
            raw = raw.append_column(name, pa.nulls(raw.num_rows, RAW_SCHEMA.field(name).type))
    missing = [name for name in RAW_SCHEMA.names if name not in raw.column_names]
    if missing:
        raise ValueError(f"records lack the column(s): {', '.join(missing)}")
    raw = raw.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)
    ids = raw.column("id").to_pylist()
    if len(set(ids)) != len(ids):
        raise ValueError("records: the column 'id' repeats a value; each patron once")
    columns: dict[str, list] = {name: [] for name in PREPARED_SCHEMA.names}
    names = raw.column("name").to_pylist()
    phones = raw.column("phones").to_pylist()
    emails = raw.column("emails").to_pylist()
    items = raw.column("items").to_pylist()
    unique_kinds = raw.column("unique_kinds").to_pylist()
    cache: dict[str | None, tuple[str | None, str | None, str | None]] = {}
    others: dict[str | None, str | None] = {}
    for i, record_id in enumerate(ids):
        name = names[i]
        split = cache.get(name)
        if split is None:
            split = cache[name] = split_name(name)
        han, py, family = split
        if name not in others:
            others[name] = _other_spelling(han, py, family)
        keys = [py, others[name]] if others[name] else [py]
        columns["name_keys"].append([k for k in keys if k] or None)
        full, tails, heads = _phone_parts(phones[i] or ())
        addresses, locals_, domains = _email_parts(emails[i] or (), py)
        columns["unique_id"].append(record_id)
        columns["name_han"].append(han)
        columns["name_py"].append(py)
        columns["family_py"].append(family)
        columns["phones"].append(_or_none(full))
        columns["phone_tails"].append(_or_none(tails))
        columns["phone_heads"].append(_or_none(heads))
        columns["emails"].append(_or_none(addresses))
        columns["email_locals"].append(_or_none(locals_))
        columns["email_domains"].append(_or_none(domains))
        columns["items"].append(sorted(set(items[i] or ())))
        columns["unique_kinds"].append(_or_none(sorted(set(unique_kinds[i] or ()))))
    users = Counter(item for row in columns["items"] for item in row or ())
    common = max(MIN_COMMON_ITEM_USERS, len(ids) // COMMON_ITEM_SHARE)
    columns["items"] = [
        _or_none([item for item in row if users[item] <= common][:MAX_ITEMS])
        for row in columns["items"]
    ]
    columns["name_letters"] = [
        "".join(sorted(py.replace(" ", ""))) if py else None for py in columns["name_py"]
    ]
    spellings = Counter(columns["name_py"])
    columns["name_count"] = [spellings[py] if py else None for py in columns["name_py"]]
    columns["birth_year"] = raw.column("birth_year").to_pylist()
    columns["category"] = [_blank_to_none(v) for v in raw.column("category").to_pylist()]
    columns["department"] = [_blank_to_none(v) for v in raw.column("department").to_pylist()]
    columns["home_branch"] = [_blank_to_none(v) for v in raw.column("home_branch").to_pylist()]
    columns["gender"] = [
        v if v in ("female", "male", "other") else None for v in raw.column("gender").to_pylist()
    ]
    return pa.table(columns, schema=PREPARED_SCHEMA)
