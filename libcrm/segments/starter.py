"""The built-in starter set: lifecycle stages (读者生命周期: new, active, at-risk, dormant,
lapsed) and a few behaviour tags, written in the rule language over the feature catalogue so
that a library can read and edit them like its own. Pure: no Django.

The lifecycle stages are a partition of every patron with recorded activity: "new" comes
first (first seen in the last 90 days); the others are by days since the last activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
LIFECYCLE = tuple(s.slug for s in STARTER if s.slug.startswith("lifecycle-"))
