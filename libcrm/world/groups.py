"""Latent behaviour groups (潜在行为群体): the hidden kinds of user behind the world's behaviour.

Every person belongs to exactly one group; the group sets how often they come, by which channel,
at what hour, on which days, in which season, to which branch and for what. Analytics never see
the group: it is the ground truth that clustering (issue 5) is measured against. Pure: no
Django.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from libcrm.world import campus
from libcrm.world.generate import PatronSpec
from libcrm.world.seasons import Phase

#: What a person does in one go: a visit to a branch (gates, loans, returns at the desk), an
#: e-resource session through EZproxy, a visit to the website or the app, WeChat interactions,
#: a seat or room booking, a reference question, feedback or a purchase suggestion.
KINDS: tuple[str, ...] = (
    "visit",
    "eresource",
    "web",
    "app",
    "wechat",
    "booking",
    "consult",
    "voice",
)
HOME = "home"  # a branch mix entry meaning the person's own home branch


def hours(*bumps: tuple[float, float, float], floor: float = 0.02) -> tuple[float, ...]:
    """24 weights (one per hour) made of bumps (peak hour, width in hours, height); the hours
    wrap around midnight so a night bump at 23:00 spills into 1:00."""
    weights = []
    for hour in range(24):
        total = floor
        for peak, width, height in bumps:
            distance = min(abs(hour + 0.5 - peak), 24 - abs(hour + 0.5 - peak))
            total += height * math.exp(-0.5 * (distance / width) ** 2)
        weights.append(total)
    return tuple(weights)


DAYTIME = hours((10, 1.6, 1.0), (15, 1.8, 1.1), (19.5, 1.4, 0.8))
OFFICE = hours((10, 1.5, 1.0), (15, 1.6, 1.0), (20.5, 1.2, 0.25))
NIGHT = hours((22, 1.6, 1.0), (0.7, 1.3, 0.55), (15, 2.5, 0.2))
EVENING_ONLINE = hours((21.5, 1.8, 1.0), (12.5, 1.0, 0.45), (9, 1.2, 0.25))
FAMILY = hours((10, 1.3, 1.0), (15.5, 1.4, 1.0), (18.5, 1.0, 0.5))
MORNING = hours((9, 1.4, 1.0), (15, 1.5, 0.55))

STUDENT_WEEK = (1.0, 1.0, 1.0, 1.0, 0.9, 0.7, 0.8)
OFFICE_WEEK = (1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.3)
FAMILY_WEEK = (0.45, 0.45, 0.5, 0.45, 0.6, 2.4, 2.4)
FLAT_WEEK = (1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95)

CAMPUS_SEASONS = {Phase.TERM: 1.0, Phase.EXAM: 1.4, Phase.WINTER: 0.15, Phase.SUMMER: 0.22}
RESEARCH_SEASONS = {Phase.TERM: 1.0, Phase.EXAM: 1.0, Phase.WINTER: 0.55, Phase.SUMMER: 0.7}
# Children's school holidays follow the same calendar: families come more, not less.
FAMILY_SEASONS = {Phase.TERM: 1.0, Phase.EXAM: 1.0, Phase.WINTER: 1.35, Phase.SUMMER: 1.45}
COMMUNITY_SEASONS = {Phase.TERM: 1.0, Phase.EXAM: 1.0, Phase.WINTER: 1.05, Phase.SUMMER: 1.1}


@dataclass(frozen=True)
class BehaviourGroup:
    """One latent group and the parameters of its behaviour (rates per ordinary term weekday)."""

    code: str
    name_zh: str
    name_en: str
    summary: str
    rates: Mapping[str, float]
    hours: Mapping[str, tuple[float, ...]]
    weekdays: tuple[float, ...]
    seasons: Mapping[Phase, float]
    holiday: float  # multiplier on public holidays (国庆, 春节 …)
    branches: Mapping[str, float]  # where visits go: HOME or a branch code
    visit_minutes: float  # median length of a visit
    loans_per_visit: float
    pages_per_session: float  # e-resource pages beyond the first
    downloads_per_session: float
    renew_share: float = 0.15
    overdue_share: float = 0.05
    hold_share: float = 0.1
    interest: str = "popular"  # a catalogue pool the group reads beside its discipline
    # Where loans come from: the person's first and second discipline pools, the group's
    # interest pool, anything at all.
    reading_mix: tuple[float, float, float, float] = (0.5, 0.2, 0.2, 0.1)
    lapses: bool = False  # stops coming part-way through the year

    def hour_weights(self, kind: str) -> tuple[float, ...]:
        return self.hours.get(kind) or self.hours["*"]


GROUPS: tuple[BehaviourGroup, ...] = (
    BehaviourGroup(
        "night_owl", "夜猫子自习族", "Night-owl self-study",
        "Students who study late in the 24-hour self-service library; long visits, exams push "
        "them further into the night.",
        rates={"visit": 0.55, "eresource": 0.048, "web": 0.0225, "app": 0.072, "wechat": 0.09,
               "booking": 0.08, "consult": 0.003, "voice": 0.002},
        hours={"*": EVENING_ONLINE, "visit": NIGHT, "booking": EVENING_ONLINE},
        weekdays=STUDENT_WEEK, seasons={**CAMPUS_SEASONS, Phase.EXAM: 1.9}, holiday=0.45,
        branches={campus.SELF_SERVICE: 0.55, HOME: 0.35, campus.MAIN: 0.1},
        visit_minutes=190, loans_per_visit=0.07, pages_per_session=1.5,
        downloads_per_session=0.5, interest="exam", reading_mix=(0.45, 0.15, 0.3, 0.1),
    ),
    BehaviourGroup(
        "eresource_researcher", "电子资源科研型", "E-resource researchers",
        "Postgraduates and faculty who read through CNKI, ScienceDirect, IEEE and Springer "
        "in office hours, download full texts and seldom come in.",
        rates={"visit": 0.07, "eresource": 0.33, "web": 0.054, "app": 0.018, "wechat": 0.024,
               "booking": 0.01, "consult": 0.015, "voice": 0.004},
        hours={"*": OFFICE, "eresource": hours((10, 1.5, 1.0), (15, 1.7, 1.1), (21, 1.5, 0.5))},
        weekdays=OFFICE_WEEK, seasons=RESEARCH_SEASONS, holiday=0.3,
        branches={HOME: 0.85, campus.MAIN: 0.15},
        visit_minutes=50, loans_per_visit=0.5, pages_per_session=2.5,
        downloads_per_session=1.4, renew_share=0.35, hold_share=0.2,
        reading_mix=(0.65, 0.25, 0.02, 0.08),
    ),
    BehaviourGroup(
        "family_reader", "周末亲子阅读", "Weekend family readers",
        "Residents with children (and the children): weekends and school holidays at the "
        "community service point, picture books and story times.",
        rates={"visit": 0.16, "eresource": 0.0024, "web": 0.0135, "app": 0.024, "wechat": 0.054,
               "booking": 0.004, "consult": 0.006, "voice": 0.003},
        hours={"*": FAMILY, "wechat": EVENING_ONLINE, "web": EVENING_ONLINE},
        weekdays=FAMILY_WEEK, seasons=FAMILY_SEASONS, holiday=1.7,
        branches={campus.COMMUNITY: 0.75, campus.MAIN: 0.2, campus.SELF_SERVICE: 0.05},
        visit_minutes=65, loans_per_visit=0.88, pages_per_session=0.5,
        downloads_per_session=0.1, renew_share=0.2, overdue_share=0.08, interest="children",
        reading_mix=(0.05, 0.05, 0.8, 0.1),
    ),
    BehaviourGroup(
        "exam_crammer", "考前突击型", "Exam crammers",
        "Undergraduates who hardly come during term and fill the reading rooms in the exam "
        "weeks of January and June.",
        rates={"visit": 0.09, "eresource": 0.012, "web": 0.0135, "app": 0.03, "wechat": 0.036,
               "booking": 0.03, "consult": 0.002, "voice": 0.001},
        hours={"*": DAYTIME, "wechat": EVENING_ONLINE},
        weekdays=STUDENT_WEEK, seasons={**CAMPUS_SEASONS, Phase.EXAM: 5.5}, holiday=0.3,
        branches={HOME: 0.55, campus.MAIN: 0.35, campus.SELF_SERVICE: 0.1},
        visit_minutes=170, loans_per_visit=0.19, pages_per_session=1.0,
        downloads_per_session=0.4, interest="exam", reading_mix=(0.35, 0.1, 0.45, 0.1),
    ),
    BehaviourGroup(
        "avid_reader", "借阅达人", "Avid borrowers",
        "Heavy borrowers of print — humanities students, faculty and retired residents — who "
        "renew, place holds and come in the daytime.",
        rates={"visit": 0.22, "eresource": 0.024, "web": 0.054, "app": 0.024, "wechat": 0.024,
               "booking": 0.01, "consult": 0.01, "voice": 0.012},
        hours={"*": MORNING, "web": EVENING_ONLINE},
        weekdays=FLAT_WEEK, seasons=COMMUNITY_SEASONS, holiday=1.1,
        branches={HOME: 0.6, campus.MAIN: 0.35, campus.COMMUNITY: 0.05},
        visit_minutes=55, loans_per_visit=0.83, pages_per_session=1.0,
        downloads_per_session=0.3, renew_share=0.35, hold_share=0.3,
        reading_mix=(0.3, 0.2, 0.35, 0.15),
    ),
    BehaviourGroup(
        "wechat_native", "微信优先", "WeChat-first students",
        "Students who meet the library mostly through its WeChat account and mini program: "
        "reading posts, booking seats, asking questions, placing holds.",
        rates={"visit": 0.12, "eresource": 0.024, "web": 0.009, "app": 0.036, "wechat": 0.48,
               "booking": 0.07, "consult": 0.008, "voice": 0.005},
        hours={"*": EVENING_ONLINE, "visit": DAYTIME},
        weekdays=STUDENT_WEEK, seasons=CAMPUS_SEASONS, holiday=0.5,
        branches={HOME: 0.6, campus.MAIN: 0.3, campus.SELF_SERVICE: 0.1},
        visit_minutes=90, loans_per_visit=0.17, pages_per_session=1.0,
        downloads_per_session=0.3, hold_share=0.25, reading_mix=(0.4, 0.15, 0.3, 0.15),
    ),
    BehaviourGroup(
        "casual_visitor", "偶尔到馆", "Casual visitors",
        "People who drop in now and then, browse the website, borrow the odd book.",
        rates={"visit": 0.045, "eresource": 0.009, "web": 0.018, "app": 0.012, "wechat": 0.024,
               "booking": 0.004, "consult": 0.002, "voice": 0.001},
        hours={"*": DAYTIME},
        weekdays=FLAT_WEEK, seasons=COMMUNITY_SEASONS, holiday=0.8,
        branches={HOME: 0.6, campus.MAIN: 0.3, campus.SELF_SERVICE: 0.1},
        visit_minutes=40, loans_per_visit=0.28, pages_per_session=0.8,
        downloads_per_session=0.3,
    ),
    BehaviourGroup(
        "dormant", "沉睡流失", "Dormant or lapsed",
        "Registered people who stopped coming: a little activity early in the year, then "
        "nothing.",
        rates={"visit": 0.05, "eresource": 0.006, "web": 0.0135, "app": 0.012, "wechat": 0.018,
               "booking": 0.002, "consult": 0.001, "voice": 0.0},
        hours={"*": DAYTIME},
        weekdays=FLAT_WEEK, seasons=COMMUNITY_SEASONS, holiday=0.8,
        branches={HOME: 0.7, campus.MAIN: 0.3},
        visit_minutes=35, loans_per_visit=0.22, pages_per_session=0.5,
        downloads_per_session=0.2, overdue_share=0.15, lapses=True,
    ),
)  # fmt: skip
GROUP_CODES: tuple[str, ...] = tuple(g.code for g in GROUPS)
BY_CODE: dict[str, BehaviourGroup] = {g.code: g for g in GROUPS}

# Chances of each group by category (people in families with children are family readers).
_BY_CATEGORY: dict[str, dict[str, float]] = {
    "undergraduate": {"night_owl": 17, "exam_crammer": 24, "wechat_native": 22,
                      "avid_reader": 7, "casual_visitor": 15, "dormant": 10,
                      "eresource_researcher": 5},
    "postgraduate": {"eresource_researcher": 42, "night_owl": 15, "wechat_native": 12,
                     "avid_reader": 8, "exam_crammer": 4, "casual_visitor": 11, "dormant": 8},
    "faculty": {"eresource_researcher": 55, "avid_reader": 16, "casual_visitor": 19,
                "dormant": 10},
    "staff": {"casual_visitor": 42, "avid_reader": 14, "wechat_native": 14, "dormant": 25,
              "eresource_researcher": 5},
    "resident": {"avid_reader": 25, "casual_visitor": 35, "wechat_native": 10, "dormant": 25,
                 "family_reader": 5},
    "child": {"family_reader": 100},
    "visitor": {"casual_visitor": 70, "dormant": 20, "eresource_researcher": 10},
    "alumnus": {"casual_visitor": 36, "eresource_researcher": 18, "dormant": 36,
                "avid_reader": 10},
}  # fmt: skip


def assign_groups(people: Sequence[PatronSpec], rng: random.Random) -> list[str]:
    """The latent group of each person, by category; the adults of a household with children
    read with them at weekends."""
    with_children = {p.household for p in people if p.category == "child"}
    out = []
    for person in people:
        in_family = person.household is not None and person.household in with_children
        if in_family and (
            person.category == "child" or person.household_role in ("head", "partner")
        ):
            out.append("family_reader")
            continue
        table = _BY_CATEGORY[person.category]
        codes, weights = zip(*table.items(), strict=True)
        out.append(rng.choices(codes, weights=weights)[0])
    return out
