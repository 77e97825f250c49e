"""Age bands: the coarse age groups the console, the API and analytics show instead of an age.

Only a patron's birth year is stored, so an age is approximate (``today.year - birth_year``);
bands are wide enough that the missing birthday never matters much, and they let aggregates and
machine clients see an age without a date of birth. Pure functions, no Django: labels are marked
for translation with ``gettext_noop`` and translated by whoever displays them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


def gettext_noop(message: str) -> str:
    """Marks a message for translation (Django's extractor knows this name) without importing
    Django: the caller translates ``label`` when it shows it."""
    return message


@dataclass(frozen=True)
class AgeBand:
    """One band: ``code`` is the stable value clients and filters use (``"25-34"``, ``"60+"``);
    ``high`` is inclusive and ``None`` for the open-ended top band."""

    code: str
    low: int
    high: int | None
    label: str

    def contains(self, age: int) -> bool:
        return age >= self.low and (self.high is None or age <= self.high)


AGE_BANDS: tuple[AgeBand, ...] = (
    AgeBand("0-13", 0, 13, gettext_noop("Children (0–13)")),
    AgeBand("14-17", 14, 17, gettext_noop("Teenagers (14–17)")),
    AgeBand("18-24", 18, 24, gettext_noop("18–24")),
    AgeBand("25-34", 25, 34, gettext_noop("25–34")),
    AgeBand("35-44", 35, 44, gettext_noop("35–44")),
    AgeBand("45-59", 45, 59, gettext_noop("45–59")),
    AgeBand("60+", 60, None, gettext_noop("60 and over")),
)
AGE_BAND_CODES: tuple[str, ...] = tuple(band.code for band in AGE_BANDS)
AGE_BAND_LABELS: dict[str, str] = {band.code: band.label for band in AGE_BANDS}


def age_in_year(birth_year: int | None, today: date) -> int | None:
    """The age a patron reaches this calendar year, or ``None`` if unknown or in the future."""
    if birth_year is None:
        return None
    age = today.year - birth_year
    return age if age >= 0 else None


def age_band(birth_year: int | None, today: date) -> str | None:
    """The code of the band a patron born in ``birth_year`` falls in on ``today``, or ``None``
    when the birth year is unknown (or later than ``today``, which validation refuses)."""
    age = age_in_year(birth_year, today)
    if age is None:
        return None
    for band in AGE_BANDS:
        if band.contains(age):
            return band.code
    return None  # unreachable: the bands cover every age from 0 up
