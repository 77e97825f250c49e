"""The library's programme of events over the year — lectures, database training, story times,
exam-preparation talks, reading clubs — and who registered for and attended each.

A few hundred programmes at most, so they are laid out with a plain loop; attendees are drawn
by their group's taste for the kind of programme and their own activity. Pure: no Django.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from libcrm.world import campus
from libcrm.world.activity import DAY
from libcrm.world.groups import GROUP_CODES
from libcrm.world.online import CARD, OPENID, event_rows
from libcrm.world.population import Population
from libcrm.world.seasons import CalendarDay, Phase


@dataclass(frozen=True)
class ProgrammeKind:
    code: str
    title_zh: str
    topics: tuple[str, ...]
    branch: str
    weekdays: tuple[int, ...]  # days of the week it is held
    hour: float
    every_weeks: int
    capacity: int
    phases: tuple[Phase, ...]  # when in the academic year it runs
    audience: dict[str, float]  # taste of each group


KINDS: tuple[ProgrammeKind, ...] = (
    ProgrammeKind("lecture", "学术讲座",
                  ("人工智能与社会", "宋代文人生活", "气候经济学", "数字人文"),
                  campus.MAIN, (1, 3), 19.0, 1, 80, (Phase.TERM,),
                  {"eresource_researcher": 3, "avid_reader": 2, "night_owl": 1,
                   "wechat_native": 1, "casual_visitor": 0.5}),
    ProgrammeKind("database_training", "数据库检索培训",
                  ("CNKI检索技巧", "Web of Science", "EndNote"),
                  campus.SCIENCE, (2,), 15.0, 2, 40, (Phase.TERM,),
                  {"eresource_researcher": 4, "night_owl": 1, "wechat_native": 1,
                   "exam_crammer": 0.3}),
    ProgrammeKind("storytime", "亲子故事会", ("绘本共读", "科学小实验", "传统节日故事"),
                  campus.COMMUNITY, (5, 6), 10.0, 1, 30,
                  (Phase.TERM, Phase.EXAM, Phase.WINTER, Phase.SUMMER), {"family_reader": 6}),
    ProgrammeKind("exam_prep", "备考讲座", ("四六级备考", "考研英语", "期末复习方法"),
                  campus.MAIN, (2, 4), 19.0, 1, 120, (Phase.TERM, Phase.EXAM),
                  {"exam_crammer": 5, "night_owl": 2, "wechat_native": 1}),
    ProgrammeKind("reading_club", "读书会", ("红楼梦", "百年孤独", "乡土中国", "人类简史"),
                  campus.MAIN, (5,), 14.5, 2, 25,
                  (Phase.TERM, Phase.EXAM, Phase.WINTER, Phase.SUMMER),
                  {"avid_reader": 5, "casual_visitor": 1, "wechat_native": 1}),
)  # fmt: skip


@dataclass(frozen=True)
class Programme:
    programme_id: str
    kind: ProgrammeKind
    title: str
    day: int  # index of its day in the world
    start: int  # seconds since the first day's midnight
    capacity: int


def schedule(calendar: Sequence[CalendarDay], scale: float, rng: random.Random) -> list[Programme]:
    """Every programme held during the world's days (none on public holidays, but story times)."""
    out: list[Programme] = []
    counter = itertools.count(1)
    for index, day in enumerate(calendar):
        week = index // 7
        for kind in KINDS:
            if day.weekday not in kind.weekdays or day.phase not in kind.phases:
                continue
            if week % kind.every_weeks or (day.holiday and kind.code != "storytime"):
                continue
            if kind.branch in campus.CAMPUS_BRANCHES and day.campus_closed:
                continue
            number = next(counter)
            out.append(
                Programme(
                    programme_id=f"prog-{day.day:%Y}-{number:04d}",
                    kind=kind,
                    title=f"{kind.title_zh}：{rng.choice(kind.topics)}",
                    day=index,
                    start=index * DAY + int(kind.hour * 3600),
                    capacity=max(3, round(kind.capacity * scale)),
                )
            )
    return out


def draw_programmes(
    programmes: Sequence[Programme], pop: Population, rng: random.Random
) -> pa.Table:
    """Registrations (on WeChat or the website, days before) and attendance (the card scanned
    at the door; a few walk in without registering) as NDJSON event rows."""
    group = pop.group.to_pylist()
    activity = pop.activity.to_pylist()
    first, last = pop.first_day.to_pylist(), pop.last_day.to_pylist()
    primary, wechat_from = pop.primary.to_pylist(), pop.wechat_from.to_pylist()
    openid_record = pop.openid_record.to_pylist()
    people = range(pop.persons)
    rows: dict[str, list] = {k: [] for k in ("record", "who", "t", "type", "channel", "branch",
                                             "item_id", "attrs")}  # fmt: skip

    def add(record: int, who: str, t: int, kind: str, channel: str, p: Programme) -> None:
        rows["record"].append(record)
        rows["who"].append(who)
        rows["t"].append(t)
        rows["type"].append(kind)
        rows["channel"].append(channel)
        rows["branch"].append(p.kind.branch if channel == "physical" else None)
        rows["item_id"].append(p.programme_id)
        rows["attrs"].append(f'{{"programme":"{p.title}","kind":"{p.kind.code}"}}')

    cumulative: dict[str, list[float]] = {}
    for kind in KINDS:
        weights = [
            kind.audience.get(GROUP_CODES[g], 0.0) * a for g, a in zip(group, activity, strict=True)
        ]
        cumulative[kind.code] = list(itertools.accumulate(weights))
    for programme in programmes:
        cum = cumulative[programme.kind.code]
        if not cum or cum[-1] <= 0:
            continue
        wanted = round(programme.capacity * rng.uniform(0.4, 1.0))
        drawn = rng.choices(people, cum_weights=cum, k=wanted * 3)
        chosen = [p for p in dict.fromkeys(drawn) if first[p] <= programme.day <= last[p]]
        for person in chosen[:wanted]:
            walk_in = rng.random() < 0.15
            if not walk_in:
                ahead = rng.randint(3600, 10 * 86_400)
                t = max(programme.start - ahead, first[person] * DAY)
                if wechat_from[person] <= programme.day and rng.random() < 0.6:
                    t = max(t, wechat_from[person] * DAY)
                    add(openid_record[person], OPENID, t, "program_registration", "wechat",
                        programme)  # fmt: skip
                else:
                    add(primary[person], CARD, t, "program_registration", "web", programme)
                if rng.random() > 0.8:
                    continue  # registered, did not come
            arrival = programme.start + rng.randint(-900, 600)
            add(primary[person], CARD, arrival, "program_attendance", "physical", programme)
    n = len(rows["record"])
    return event_rows(
        n,
        **{
            key: pa.array(values, pa.int64() if key in ("record", "t") else pa.string())
            for key, values in rows.items()
        },
    )
