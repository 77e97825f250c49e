"""Patron attributes a rule may name beside the behavioural features (读者属性: 读者类型, 院系,
学科, 年龄段, 性别, 所属分馆, 注册日期), and the engagement scores derived from the features.

The profile a rule runs on is one row per active patron of the registry (pseudonymous
``patron_key`` and clear-text attributes, never a name) joined with the feature table; this
module says which columns the attributes add and how the derived ones are computed, as plain
functions over plain data. Pure: no Django.

Engagement (读者活跃度) is scored recency-frequency style: each of R and F is 1 to 5 from fixed
thresholds (below), so that a score means the same thing in every library and every month;
fixed thresholds rather than quintiles, because quintiles of a quiet population would call a
patron seen twice a year "5".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from libcrm.patrons.age import age_band


@dataclass(frozen=True)
class Attribute:
    """One column the registry (or a score) adds to the profile, as a librarian reads it."""

    name: str
    type: str  # a rule-language field type: text, int or date
    label: str  # English; also the gettext msgid
    label_zh: str
    description: str
    topic: str = "patron"

    @property
    def arrow_type(self) -> pa.DataType:
        return {"text": pa.string(), "int": pa.int64(), "date": pa.date32()}[self.type]


RECENCY_THRESHOLDS: tuple[int, ...] = (7, 30, 90, 180)
"""Days since the last activity: up to 7 → R5, 30 → R4, 90 → R3, 180 → R2, more or never → R1."""
FREQUENCY_THRESHOLDS: tuple[int, ...] = (24, 12, 6, 2)
"""Active days in the last 90: 24 or more → F5 (about twice a week), 12 → F4 (weekly),
6 → F3 (fortnightly), 2 → F2, fewer → F1."""

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("category", "text", "Patron category", "读者类型",
              "undergraduate, postgraduate, faculty, staff, resident, child, visitor, alumnus"),
    Attribute("department", "text", "Department code", "院系代码",
              "The code of the patron's department (e.g. cs); empty when none."),
    Attribute("discipline", "text", "Discipline", "学科门类",
              "One of the fourteen discipline categories (science, engineering, medicine, "
              "literature, …): the patron's own, else their department's."),
    Attribute("age_band", "text", "Age band", "年龄段",
              "0-13, 14-17, 18-24, 25-34, 35-44, 45-59 or 60+, from the birth year on the "
              "as-of date; empty when the birth year is unknown."),
    Attribute("gender", "text", "Gender", "性别", "female, male, other or undisclosed"),
    Attribute("home_branch", "text", "Home branch", "所属分馆",
              "The code of the patron's home branch; empty when none."),
    Attribute("registered_on", "date", "Registered on", "注册日期",
              "The day the patron registered with the library."),
    Attribute("tenure_days", "int", "Days since registration", "注册天数",
              "Days from registration to the as-of date."),
    Attribute("recency_score", "int", "Recency score (1–5)", "最近活跃度评分（1–5）",
              "5: active in the last 7 days; 4: 8–30 days ago; 3: 31–90; 2: 91–180; "
              "1: longer ago or never.", topic="engagement"),
    Attribute("frequency_score", "int", "Frequency score (1–5)", "活跃频率评分（1–5）",
              "Active days in the last 90: 5: 24 or more; 4: 12–23; 3: 6–11; 2: 2–5; "
              "1: fewer than 2.", topic="engagement"),
)  # fmt: skip
ATTRIBUTES_BY_NAME: dict[str, Attribute] = {a.name: a for a in ATTRIBUTES}
REGISTRY_COLUMNS: tuple[str, ...] = (
    "category",
    "department",
    "discipline",
    "birth_year",
    "gender",
    "home_branch",
    "registered_on",
)
"""What a registry row brings (the birth year only to compute the age band, then dropped)."""

DISCIPLINE_GROUPS: dict[str, tuple[str, ...]] = {
    "stem": ("science", "engineering", "agriculture"),
    "humanities-social": (
        "philosophy",
        "economics",
        "law",
        "education",
        "literature",
        "history",
        "management",
        "art",
        "military",
    ),
    "medicine": ("medicine",),
}
"""Discipline groups of the starter set: 理工农 (science, engineering, agriculture), 人文社科
(humanities and social sciences) and 医学 (medicine); interdisciplinary is in none."""


def recency_score(days_since_last: int | None) -> int:
    if days_since_last is None:
        return 1
    for score, limit in zip((5, 4, 3, 2), RECENCY_THRESHOLDS, strict=True):
        if days_since_last <= limit:
            return score
    return 1


def frequency_score(active_days_90d: int | None) -> int:
    for score, floor in zip((5, 4, 3, 2), FREQUENCY_THRESHOLDS, strict=True):
        if (active_days_90d or 0) >= floor:
            return score
    return 1


def attribute_columns(rows: list[dict], as_of: date) -> dict[str, pa.Array]:
    """The registry attributes as Arrow columns (``patron_key`` first) from registry rows
    (dicts with ``patron_key`` and :data:`REGISTRY_COLUMNS`), computed on ``as_of``."""

    def text(name: str) -> pa.Array:
        return pa.array([(r.get(name) or None) for r in rows], pa.string())

    registered = [r.get("registered_on") for r in rows]
    return {
        "patron_key": pa.array([r["patron_key"] for r in rows], pa.string()),
        "category": text("category"),
        "department": text("department"),
        "discipline": text("discipline"),
        "age_band": pa.array([age_band(r.get("birth_year"), as_of) for r in rows], pa.string()),
        "gender": text("gender"),
        "home_branch": text("home_branch"),
        "registered_on": pa.array(registered, pa.date32()),
        "tenure_days": pa.array(
            [None if d is None else max((as_of - d).days, 0) for d in registered], pa.int64()
        ),
    }


def score_columns(days_since_last: list[int | None], active_days_90d: list[int | None]) -> dict:
    """The recency and frequency scores of the profile's rows, in the same order."""
    return {
        "recency_score": pa.array([recency_score(d) for d in days_since_last], pa.int64()),
        "frequency_score": pa.array([frequency_score(n) for n in active_days_90d], pa.int64()),
    }
