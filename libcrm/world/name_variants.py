"""How one person's name comes out differently in a second registration: a homophone typed for
one 汉字 (张伟 → 张炜, the commonest slip of pinyin input), the name in pinyin (Zhang Wei, ZHANG
Wei, Wei Zhang), a letter swapped or an accent dropped in a Latin name (Müller → Muller).

These are the variations identity linkage (issue 4) must see through. Pure: no Django.
"""

from __future__ import annotations

import random
import unicodedata

from libcrm.world.personal_names import latin

# Characters read alike (same pinyin, tones aside): a pinyin input method offers them side by
# side, so one is easily picked for another.
_HOMOPHONE_GROUPS = (
    "伟炜玮韦维", "静婧靖敬", "丽莉俐利力立", "明铭鸣", "华桦骅", "军君钧", "俊峻骏", "杰洁捷",
    "涛韬滔", "磊蕾", "芳方舫", "敏闽珉", "强蔷", "勇永咏", "平萍苹", "辉晖徽", "宇雨羽禹语",
    "浩皓昊颢", "轩萱宣", "涵晗含", "欣昕馨新鑫心", "怡宜仪", "晨辰宸", "婷亭庭", "琪琦棋淇",
    "佳嘉家", "梅玫媚", "玲灵", "琳林霖", "燕艳雁", "红虹鸿宏", "刚钢", "斌彬滨", "峰锋丰枫",
    "瑞睿", "凯恺铠", "航杭", "阳杨扬洋", "思斯丝", "可珂", "娜纳", "霞侠", "慧惠蕙", "娟鹃",
    "玉钰", "云芸", "晶京精", "兰岚蓝", "秀绣", "英莺鹰", "桂贵", "光广", "庆青清", "荣蓉融",
    "建健剑", "文雯闻", "成诚承程", "志智", "超朝", "博波", "泽则", "天田", "一依", "翔祥",
    "哲喆", "远媛源", "豪毫", "毅艺亿", "梓子紫", "诗师", "悦月越玥", "彤童同", "瑶遥姚",
    "颖影莹", "璐露路", "蕊锐", "妍言", "曦希熙溪",
    # surnames
    "张章", "王汪", "刘柳", "徐许", "黄皇", "吴武伍", "周舟", "肖萧", "袁元", "余于俞", "付傅",
    "江姜", "闫严颜",
)  # fmt: skip
HOMOPHONES: dict[str, str] = {
    char: group.replace(char, "") for group in _HOMOPHONE_GROUPS for char in group
}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")


def is_chinese(name: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" for ch in name)


def split_chinese(name: str) -> tuple[str, str]:
    """(surname, given name) of a Chinese name."""
    size = 2 if name[:2] in COMPOUND_SURNAMES else 1
    return name[:size], name[size:]


def homophone_typo(name: str, rng: random.Random) -> str:
    """The name with one character replaced by a homophone (the given name more often than
    the surname); the name itself when none of its characters has one."""
    family, given = split_chinese(name)
    candidates = [len(family) + i for i, ch in enumerate(given) if ch in HOMOPHONES]
    if family in HOMOPHONES and (not candidates or rng.random() < 0.2):
        candidates = [0]
    if not candidates:
        return name
    at = rng.choice(candidates)
    return name[:at] + rng.choice(HOMOPHONES[name[at]]) + name[at + 1 :]


def pinyin_name(name: str, rng: random.Random) -> str:
    """The Chinese name in pinyin as people type it into a form: 张伟 → Zhang Wei, ZHANG Wei,
    Wei Zhang or zhang wei."""
    family, given = split_chinese(name)
    surname = latin(family, surname=True).capitalize()
    first = latin(given).capitalize()
    style = rng.choices(("plain", "passport", "western", "lower"), (45, 30, 15, 10))[0]
    if style == "passport":
        return f"{surname.upper()} {first}"
    if style == "western":
        return f"{first} {surname}"
    if style == "lower":
        return f"{surname} {first}".lower()
    return f"{surname} {first}"


def latin_variant(name: str, rng: random.Random) -> str:
    """A Latin-script name as a second form might hold it: accents dropped, family name first
    in capitals, or two letters of the family name swapped."""
    given, _, family = name.partition(" ")
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    if plain != name and rng.random() < 0.5:
        return plain
    if rng.random() < 0.5 or len(family) < 4:
        return f"{family.upper()} {given}"
    at = rng.randint(1, len(family) - 3)
    swapped = family[:at] + family[at + 1] + family[at] + family[at + 2 :]
    return f"{given} {swapped}"


def name_variant(name: str, rng: random.Random, *, typo: float, pinyin: float) -> tuple[str, str]:
    """The name as a second registration holds it and how it differs: ``same``, ``typo``
    (homophone or swapped letters), ``pinyin`` (a Chinese name in Latin letters) or ``latin``
    (a Latin name rewritten)."""
    draw = rng.random()
    if not is_chinese(name):
        if draw < typo + pinyin:
            return latin_variant(name, rng), "latin"
        return name, "same"
    if draw < typo:
        varied = homophone_typo(name, rng)
        return varied, "typo" if varied != name else "same"
    if draw < typo + pinyin:
        return pinyin_name(name, rng), "pinyin"
    return name, "same"
