"""The demo library's year: the academic calendar (autumn and spring terms, exam weeks in January
and June, winter and summer holidays) and China's public holidays (元旦, 春节, 清明, 劳动节, 端午,
中秋, 国庆), during which the campus is quiet and the community branch busy.

Lunar holidays come from a table of their Gregorian dates (2019–2040); outside it they fall
back to a typical date, which is close enough for a synthetic world. Pure: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Phase(StrEnum):
    """Where a day falls in the academic year."""

    TERM = "term"  # 学期中
    EXAM = "exam"  # 考试周
    WINTER = "winter"  # 寒假
    SUMMER = "summer"  # 暑假


# 春节 (the first day of the first lunar month), 端午 and 中秋, by Gregorian year.
SPRING_FESTIVAL = {
    2019: (2, 5), 2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10),
    2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3),
    2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8), 2036: (1, 28),
    2037: (2, 15), 2038: (2, 4), 2039: (1, 24), 2040: (2, 12),
}  # fmt: skip
DRAGON_BOAT = {
    2019: (6, 7), 2020: (6, 25), 2021: (6, 14), 2022: (6, 3), 2023: (6, 22), 2024: (6, 10),
    2025: (5, 31), 2026: (6, 19), 2027: (6, 9), 2028: (5, 28), 2029: (6, 16), 2030: (6, 5),
    2031: (6, 24), 2032: (6, 12), 2033: (6, 1), 2034: (6, 20), 2035: (6, 10),
}  # fmt: skip
MID_AUTUMN = {
    2019: (9, 13), 2020: (10, 1), 2021: (9, 21), 2022: (9, 10), 2023: (9, 29), 2024: (9, 17),
    2025: (10, 6), 2026: (9, 25), 2027: (9, 15), 2028: (10, 3), 2029: (9, 22), 2030: (9, 12),
    2031: (10, 1), 2032: (9, 19), 2033: (9, 8), 2034: (9, 27), 2035: (9, 16),
}  # fmt: skip
_TYPICAL = {"spring": (2, 5), "dragon": (6, 12), "autumn": (9, 20)}

#: Days of the campus branches' Spring Festival closure, counted from New Year's Eve (除夕).
CAMPUS_CLOSED_DAYS = 5
#: Days the community service point closes (除夕 and 初一).
COMMUNITY_CLOSED_DAYS = 2
EXAM_DAYS = 14


@dataclass(frozen=True)
class CalendarDay:
    """One day of the world: its academic phase, public holiday (Chinese name, or ""), and
    which branches are shut for the Spring Festival."""

    day: date
    phase: Phase
    holiday: str
    campus_closed: bool
    community_closed: bool

    @property
    def weekday(self) -> int:
        """0 for Monday … 6 for Sunday."""
        return self.day.weekday()


def spring_festival(year: int) -> date:
    return date(year, *SPRING_FESTIVAL.get(year, _TYPICAL["spring"]))


def public_holidays(year: int) -> dict[date, str]:
    """The days off of ``year``'s public holidays (法定节假日), approximately as announced."""
    days: dict[date, str] = {date(year, 1, 1): "元旦"}

    def span(first: date, length: int, name: str) -> None:
        for offset in range(length):
            days.setdefault(first + timedelta(days=offset), name)

    span(spring_festival(year) - timedelta(days=1), 8, "春节")
    qingming = date(year, 4, 5 if year % 4 in (2, 3) else 4)
    span(qingming, 3, "清明节")
    span(date(year, 5, 1), 5, "劳动节")
    span(date(year, *DRAGON_BOAT.get(year, _TYPICAL["dragon"])), 3, "端午节")
    span(date(year, 10, 1), 7, "国庆节")  # before 中秋, so a shared day is counted as 国庆
    span(date(year, *MID_AUTUMN.get(year, _TYPICAL["autumn"])), 3, "中秋节")
    return days


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _phase(day: date) -> Phase:
    """The academic phase: the autumn term runs from the first Monday of September to the
    winter holiday (about three weeks before 春节, no later than 20 January, and at least two
    weeks after New Year), the spring term from about two weeks after 春节 to 30 June; each
    term ends with two exam weeks."""
    year = day.year
    festival = spring_festival(year)
    winter_start = min(date(year, 1, 20), festival - timedelta(days=18))
    winter_start = max(winter_start, date(year, 1, 12))
    spring_start = _monday_on_or_after(max(date(year, 2, 20), festival + timedelta(days=14)))
    summer_start = date(year, 7, 1)
    autumn_start = _monday_on_or_after(date(year, 9, 1))
    if day < winter_start - timedelta(days=EXAM_DAYS):
        return Phase.TERM  # January before the exams: the end of the autumn term
    if day < winter_start:
        return Phase.EXAM
    if day < spring_start:
        return Phase.WINTER
    if day < summer_start - timedelta(days=EXAM_DAYS):
        return Phase.TERM
    if day < summer_start:
        return Phase.EXAM
    if day < autumn_start:
        return Phase.SUMMER
    return Phase.TERM


def academic_calendar(first: date, last: date) -> list[CalendarDay]:
    """Every day from ``first`` to ``last`` inclusive."""
    holidays: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        holidays.update(public_holidays(year))
    eves = {spring_festival(y) - timedelta(days=1) for y in range(first.year, last.year + 1)}
    out = []
    day = first
    while day <= last:
        since_eve = [(day - eve).days for eve in eves if (day - eve).days >= 0]
        offset = min(since_eve) if since_eve else None
        out.append(
            CalendarDay(
                day=day,
                phase=_phase(day),
                holiday=holidays.get(day, ""),
                campus_closed=offset is not None and offset < CAMPUS_CLOSED_DAYS,
                community_closed=offset is not None and offset < COMMUNITY_CLOSED_DAYS,
            )
        )
        day += timedelta(days=1)
    return out
