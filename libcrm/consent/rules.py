"""The consent rules that need no database: defaults, the age of consent, guardians, merges.

Pure functions over plain values, so the rules can be read (and tested) in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Age below which a guardian decides (PIPL art. 31: personal information of minors under 14).
AGE_OF_CONSENT = 14
#: A guardian must be an adult.
GUARDIAN_MIN_AGE = 18
#: Household roles that may consent for a child of the household.
GUARDIAN_ROLES = frozenset({"guardian", "head"})

#: Purposes that may apply without a record (opt-out rather than opt-in): only pseudonymous,
#: aggregate usage statistics, only for patrons of 14 and over, and only while the library keeps
#: ``LIBCRM_CONSENT_ANALYTICS_DEFAULT`` on (see docs/privacy.md). Everything else waits for a yes.
OPT_OUT_PURPOSES = frozenset({"analytics"})


def is_child(age: int | None, category: str) -> bool:
    """Under 14 by birth year, or — when the birth year is unknown — registered as a child."""
    if age is not None:
        return age < AGE_OF_CONSENT
    return category == "child"


def default_for(purpose: str, *, child: bool, opt_out: bool = True) -> bool:
    """What applies while a patron has never said anything about ``purpose``; ``opt_out``
    False makes every purpose opt-in."""
    return opt_out and purpose in OPT_OUT_PURPOSES and not child


def merged_state(states: Iterable[bool | None]) -> bool | None:
    """The state after merging records that each had ``states`` (``None``: no choice made).

    The most restrictive explicit choice wins: one "no" is enough; a record that never chose
    takes nothing away from one that did. ``None`` when nobody chose.
    """
    explicit = [s for s in states if s is not None]
    if not explicit:
        return None
    return all(explicit)
