"""Classification schedules (分类表): the classes libcrm knows by name, scheme by scheme.

Each schedule lists top classes and a useful selection of their subdivisions, in Chinese and
English, so that any class number can be rolled up to a named ancestor. Class numbers deeper
than the schedule still work everywhere: they roll up to their nearest listed ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass

from libcrm.catalog.schedules import clc, ddc, lcc


@dataclass(frozen=True)
class ScheduleEntry:
    """One named class of a schedule; ``code`` is in the normal form of
    :mod:`libcrm.catalog.classification` (DDC main classes are "0"…"9", divisions "00"…"99")."""

    scheme: str
    code: str
    label_zh: str
    label_en: str

    def label(self, language: str | None) -> str:
        """The label in ``language`` (a Django language code); English unless it is Chinese."""
        return self.label_zh if (language or "").lower().startswith("zh") else self.label_en


def _entries(scheme: str, rows: tuple[tuple[str, str, str], ...]) -> dict[str, ScheduleEntry]:
    table = {code: ScheduleEntry(scheme, code, zh, en) for code, zh, en in rows}
    if len(table) != len(rows):  # a typo in a table must fail loudly, not shadow a class
        raise ValueError(f"the {scheme} schedule lists a class twice")
    return table


SCHEDULES: dict[str, dict[str, ScheduleEntry]] = {
    "clc": _entries("clc", clc.CLASSES),
    "lcc": _entries("lcc", lcc.CLASSES),
    "ddc": _entries("ddc", ddc.CLASSES),
}


def entry(scheme: str, code: str) -> ScheduleEntry | None:
    """The named class ``code`` (normal form) of ``scheme``, or None if the schedule omits it."""
    return SCHEDULES.get(scheme, {}).get(code)


def entries(scheme: str) -> list[ScheduleEntry]:
    """Every named class of ``scheme``, in schedule order."""
    return list(SCHEDULES[scheme].values())
