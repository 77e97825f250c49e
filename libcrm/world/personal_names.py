"""Personal names for the demo library: Chinese names drawn like real ones, English names for
exchange students and visiting scholars, and the Latin spellings used in e-mail addresses.

Chinese surnames are weighted by their share of the population (the hundred commonest cover
about 85% of people); given names have one or two characters, drawn from pools that differ
between older and younger generations (建国, 秀英 / 子轩, 梓涵). Pure Python, no Django.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

# (surname, share of the population in per mille), after the 2020 census household register.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 71.5),
    ("李", 70.0),
    ("张", 68.6),
    ("刘", 54.2),
    ("陈", 44.8),
    ("杨", 31.2),
    ("黄", 22.6),
    ("赵", 20.4),
    ("吴", 20.1),
    ("周", 19.5),
    ("徐", 13.3),
    ("孙", 12.9),
    ("马", 12.4),
    ("朱", 12.1),
    ("胡", 11.4),
    ("郭", 10.9),
    ("何", 10.5),
    ("林", 9.9),
    ("罗", 9.8),
    ("高", 9.7),
    ("郑", 8.1),
    ("梁", 8.0),
    ("谢", 7.5),
    ("宋", 6.5),
    ("唐", 6.4),
    ("许", 6.2),
    ("韩", 6.1),
    ("邓", 6.0),
    ("冯", 6.0),
    ("曹", 5.8),
    ("彭", 5.6),
    ("曾", 5.5),
    ("肖", 5.4),
    ("田", 5.3),
    ("董", 5.1),
    ("潘", 5.0),
    ("袁", 4.9),
    ("蔡", 4.8),
    ("蒋", 4.7),
    ("余", 4.6),
    ("于", 4.5),
    ("杜", 4.4),
    ("叶", 4.3),
    ("程", 4.3),
    ("魏", 4.2),
    ("苏", 4.2),
    ("吕", 4.1),
    ("丁", 4.0),
    ("任", 3.9),
    ("卢", 3.8),
    ("姚", 3.7),
    ("沈", 3.7),
    ("钟", 3.6),
    ("姜", 3.5),
    ("崔", 3.4),
    ("谭", 3.3),
    ("陆", 3.2),
    ("范", 3.1),
    ("汪", 3.1),
    ("廖", 3.0),
    ("石", 3.0),
    ("金", 2.9),
    ("韦", 2.8),
    ("贾", 2.8),
    ("夏", 2.7),
    ("付", 2.6),
    ("方", 2.6),
    ("邹", 2.5),
    ("熊", 2.5),
    ("白", 2.4),
    ("孟", 2.4),
    ("秦", 2.3),
    ("邱", 2.3),
    ("侯", 2.2),
    ("江", 2.2),
    ("尹", 2.1),
    ("薛", 2.0),
    ("闫", 2.0),
    ("段", 1.9),
    ("雷", 1.9),
    ("龙", 1.8),
    ("黎", 1.8),
    ("史", 1.8),
    ("陶", 1.7),
    ("贺", 1.7),
    ("毛", 1.6),
    ("郝", 1.6),
    ("顾", 1.6),
    ("龚", 1.5),
    ("邵", 1.5),
    ("万", 1.4),
    ("覃", 1.4),
    ("武", 1.4),
    ("钱", 1.3),
    ("戴", 1.3),
    ("严", 1.3),
    ("莫", 1.2),
    ("孔", 1.2),
    ("向", 1.1),
    ("常", 1.1),
    ("欧阳", 0.4),
    ("司马", 0.1),
    ("上官", 0.1),
    ("诸葛", 0.1),
)
_SURNAME_CHOICES = tuple(s for s, _ in SURNAMES)
_SURNAME_WEIGHTS = tuple(w for _, w in SURNAMES)

# Pinyin of the surnames whose everyday reading differs from the character's default reading.
_SURNAME_PINYIN = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha"}

_GIVEN = {
    ("male", "classic"): "伟强磊军勇杰涛明超辉刚平建国华峰斌波志永德林新海文亮成宏春光庆荣",
    ("male", "modern"): "浩宇轩子睿泽博俊晨皓然铭昊天一诺翔宸哲凯航瑞鑫思远辰豪阳毅嘉",
    ("female", "classic"): "芳娜敏静丽艳秀英玲桂兰红霞燕萍琴梅雪慧洁娟莉玉凤晶云华春小丹",
    ("female", "modern"): "欣怡梓涵雨萱诗琪佳悦可馨思彤晨语嘉瑶琳婧雯颖璐月若依蕊妍曦玥",
}

# Exchange students and visiting scholars: (given name, gender) and family names per region, so
# that a Japanese given name comes with a Japanese family name.
_FOREIGN: tuple[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    (
        (
            ("James", "male"),
            ("Liam", "male"),
            ("Daniel", "male"),
            ("Emma", "female"),
            ("Olivia", "female"),
            ("Hannah", "female"),
            ("Chloe", "female"),
            ("Samuel", "male"),
        ),
        ("Smith", "Johnson", "Brown", "Wilson", "Taylor", "O'Brien", "Clarke", "Evans"),
    ),
    (
        (("Lukas", "male"), ("Felix", "male"), ("Anna", "female"), ("Lena", "female")),
        ("Müller", "Schmidt", "Weber", "Fischer", "Becker"),
    ),
    (
        (("Hugo", "male"), ("Louis", "male"), ("Léa", "female"), ("Camille", "female")),
        ("Dubois", "Martin", "Bernard", "Laurent", "Moreau"),
    ),
    (
        (("Mateo", "male"), ("Diego", "male"), ("Sofía", "female"), ("Lucía", "female")),
        ("García", "Martínez", "López", "Fernández"),
    ),
    (
        (("Kenji", "male"), ("Haruto", "male"), ("Yuki", "female"), ("Sakura", "female")),
        ("Tanaka", "Sato", "Suzuki", "Takahashi"),
    ),
    (
        (("Min-jun", "male"), ("Do-yun", "male"), ("Ji-woo", "female"), ("Seo-yeon", "female")),
        ("Kim", "Park", "Lee", "Choi"),
    ),
    (
        (("Arjun", "male"), ("Rohan", "male"), ("Priya", "female"), ("Ananya", "female")),
        ("Patel", "Sharma", "Iyer", "Gupta"),
    ),
)


@dataclass(frozen=True)
class PersonalName:
    """A name as the patron writes it, and the parts an e-mail address is made of."""

    full: str
    family: str
    given: str
    gender: str
    chinese: bool

    @property
    def family_latin(self) -> str:
        return latin(self.family, surname=True) if self.chinese else latin(self.family)

    @property
    def given_latin(self) -> str:
        return latin(self.given)


def latin(text: str, *, surname: bool = False) -> str:
    """Lower-case ASCII letters for an e-mail address: pinyin for 汉字, accents dropped."""
    if surname and text in _SURNAME_PINYIN:
        return _SURNAME_PINYIN[text]
    spelled = "".join(lazy_pinyin(text, style=Style.NORMAL))
    ascii_only = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_only.lower() if ch.isalnum())


def chinese_surname(rng: random.Random) -> str:
    return rng.choices(_SURNAME_CHOICES, weights=_SURNAME_WEIGHTS)[0]


def chinese_name(
    rng: random.Random, gender: str, birth_year: int, *, surname: str | None = None
) -> PersonalName:
    """A Chinese name fitting the person's gender and generation."""
    family = surname or chinese_surname(rng)
    pool_gender = gender if gender in ("male", "female") else rng.choice(("male", "female"))
    older = birth_year < 1985
    modern_share = 0.3 if older else 0.75
    length = 1 if rng.random() < (0.28 if older else 0.15) else 2
    chars: list[str] = []
    while len(chars) < length:
        era = "modern" if rng.random() < modern_share else "classic"
        char = rng.choice(_GIVEN[(pool_gender, era)])
        if char not in chars and char != family:
            chars.append(char)
    given = "".join(chars)
    return PersonalName(family + given, family, given, gender, chinese=True)


def foreign_name(rng: random.Random) -> PersonalName:
    """A Latin-script name (exchange students, visiting scholars), given name first."""
    given_names, families = rng.choice(_FOREIGN)
    given, gender = rng.choice(given_names)
    family = rng.choice(families)
    return PersonalName(f"{given} {family}", family, given, gender, chinese=False)
