"""The built-in starter set: lifecycle stages (读者生命周期: new, active, at-risk, dormant,
lapsed), the paper's criteria (年龄段, 到馆频率, 借阅量, 电子资源下载, 学科) and engagement levels
(读者活跃度), written in the rule language over the profile's attributes and features so that a
library can read and edit them like its own. Pure: no Django.

The lifecycle stages are a partition of every patron with recorded activity: "new" comes
first (first seen in the last 90 days); the others are by days since the last activity. The
age segments partition the patrons whose birth year is known, the engagement levels every
patron (see :mod:`.attributes` for the recency and frequency scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libcrm.segments.attributes import DISCIPLINE_GROUPS


@dataclass(frozen=True)
class StarterSegment:
    slug: str
    name_en: str
    name_zh: str
    description: str
    rule: dict[str, Any]
    kind: str = "segment"
    parent: str | None = None


def _since(low: int, high: int | None = None) -> dict[str, Any]:
    if high is None:
        return {"field": "days_since_last", "op": ">=", "value": low}
    return {"field": "days_since_last", "op": "between", "value": [low, high]}


def _in(field: str, *values: str) -> dict[str, Any]:
    return {"field": field, "op": "in", "value": list(values)}


def _at_least(field: str, value: int) -> dict[str, Any]:
    return {"field": field, "op": ">=", "value": value}


NEW = {"field": "first_seen", "op": "within", "value": {"days": 90}}
NOT_NEW = {"not": {"segment": "lifecycle-new"}}

STARTER: tuple[StarterSegment, ...] = (
    StarterSegment(
        "lifecycle-new",
        "New",
        "新读者",
        "First activity in the last 90 days.",
        NEW,
    ),
    StarterSegment(
        "lifecycle-active",
        "Active",
        "活跃读者",
        "Not new; last activity in the last 30 days.",
        {"all": [NOT_NEW, _since(0, 29)]},
    ),
    StarterSegment(
        "lifecycle-at-risk",
        "At risk",
        "流失风险读者",
        "Not new; last activity 30 to 89 days ago.",
        {"all": [NOT_NEW, _since(30, 89)]},
    ),
    StarterSegment(
        "lifecycle-dormant",
        "Dormant",
        "沉睡读者",
        "Not new; last activity 90 to 364 days ago.",
        {"all": [NOT_NEW, _since(90, 364)]},
    ),
    StarterSegment(
        "lifecycle-lapsed",
        "Lapsed",
        "流失读者",
        "Not new; no activity for a year or more.",
        {"all": [NOT_NEW, _since(365)]},
    ),
    StarterSegment(
        "frequent-visitors",
        "Frequent visitors",
        "高频到馆读者",
        "Came in on 12 or more days in the last 90 days (about once a week).",
        {"field": "visits_days_90d", "op": ">=", "value": 12},
        kind="tag",
    ),
    StarterSegment(
        "heavy-borrowers",
        "Heavy borrowers",
        "借阅活跃读者",
        "24 or more loans in the last 365 days (about two a month).",
        {"field": "loans_events_365d", "op": ">=", "value": 24},
        kind="tag",
    ),
    StarterSegment(
        "digital-readers",
        "Digital readers",
        "数字资源读者",
        "10 or more uses of digital resources, or 5 or more downloads, in the last 90 or "
        "365 days respectively.",
        {
            "any": [
                {"field": "digital_events_90d", "op": ">=", "value": 10},
                {"field": "downloads_365d", "op": ">=", "value": 5},
            ]
        },
        kind="tag",
    ),
    StarterSegment(
        "night-owls",
        "Night owls",
        "夜读者",
        "At least a third of last year's activities between 22:00 and 06:00, with 10 or more "
        "activities in the year.",
        {
            "all": [
                {"field": "night_share_365d", "op": ">=", "value": 0.33},
                {"field": "all_events_365d", "op": ">=", "value": 10},
            ]
        },
        kind="tag",
    ),
)
AGE_SEGMENTS: tuple[StarterSegment, ...] = (
    StarterSegment("age-children", "Children (0–13)", "少年儿童（0–13岁）",
                   "Age band 0-13 (from the birth year).", _in("age_band", "0-13")),
    StarterSegment("age-teenagers", "Teenagers (14–17)", "青少年（14–17岁）",
                   "Age band 14-17.", _in("age_band", "14-17")),
    StarterSegment("age-young-adults", "Young adults (18–34)", "青年（18–34岁）",
                   "Age bands 18-24 and 25-34.", _in("age_band", "18-24", "25-34")),
    StarterSegment("age-adults", "Adults (35–59)", "中年（35–59岁）",
                   "Age bands 35-44 and 45-59.", _in("age_band", "35-44", "45-59")),
    StarterSegment("age-seniors", "Seniors (60 and over)", "老年（60岁及以上）",
                   "Age band 60+.", _in("age_band", "60+")),
)  # fmt: skip
DISCIPLINE_SEGMENTS: tuple[StarterSegment, ...] = (
    StarterSegment("discipline-stem", "Science and engineering", "理工农",
                   "Discipline is science, engineering or agriculture.",
                   _in("discipline", *DISCIPLINE_GROUPS["stem"])),
    StarterSegment("discipline-humanities-social", "Humanities and social sciences", "人文社科",
                   "Discipline is philosophy, economics, law, education, literature, history, "
                   "management, art or military science.",
                   _in("discipline", *DISCIPLINE_GROUPS["humanities-social"])),
    StarterSegment("discipline-medicine", "Medicine", "医学", "Discipline is medicine.",
                   _in("discipline", *DISCIPLINE_GROUPS["medicine"])),
)  # fmt: skip
BEHAVIOUR_TAGS: tuple[StarterSegment, ...] = (
    StarterSegment("regular-visitors", "Regular visitors", "经常到馆读者",
                   "Came in on 4 to 11 days in the last 90 days (every two or three weeks).",
                   {"field": "visits_days_90d", "op": "between", "value": [4, 11]}, kind="tag"),
    StarterSegment("e-resource-downloaders", "E-resource downloaders", "电子资源下载读者",
                   "10 or more downloads of full texts or files in the last 365 days.",
                   _at_least("downloads_365d", 10), kind="tag"),
)  # fmt: skip
ENGAGEMENT: tuple[StarterSegment, ...] = (
    StarterSegment("engagement-high", "Highly engaged", "高活跃读者",
                   "Recency score 4 or 5 and frequency score 4 or 5: active in the last 30 "
                   "days and on 12 or more days in the last 90.",
                   {"all": [_at_least("recency_score", 4), _at_least("frequency_score", 4)]},
                   kind="tag"),
    StarterSegment("engagement-low", "Low engagement", "低活跃读者",
                   "Recency score 1 or 2 (no activity in the last 90 days, or none at all), "
                   "or frequency score 1 (active on fewer than 2 days in the last 90).",
                   {"any": [{"field": "recency_score", "op": "<=", "value": 2},
                            {"field": "frequency_score", "op": "=", "value": 1}]}, kind="tag"),
    StarterSegment("engagement-medium", "Moderately engaged", "中等活跃读者",
                   "Neither highly engaged nor of low engagement.",
                   {"not": {"any": [{"segment": "engagement-high"},
                                    {"segment": "engagement-low"}]}}, kind="tag"),
)  # fmt: skip
STARTER = (*STARTER, *AGE_SEGMENTS, *DISCIPLINE_SEGMENTS, *BEHAVIOUR_TAGS, *ENGAGEMENT)
LIFECYCLE = tuple(s.slug for s in STARTER if s.slug.startswith("lifecycle-"))
