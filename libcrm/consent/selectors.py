"""Reads of consent: "may we?" for one patron (:func:`has_consent`), for everyone at once
(:func:`patron_keys_with_consent`), and what the portal and the console show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.consent import rules
from libcrm.consent.errors import ConsentError
from libcrm.consent.models import ConsentRecord, ConsentVia, ConsentWording, Purpose
from libcrm.patrons.age import age_in_year
from libcrm.patrons.models import Patron


def default_for(purpose: str, *, child: bool) -> bool:
    """What applies to a patron who never chose (the library's setting included)."""
    return rules.default_for(
        purpose, child=child, opt_out=settings.LIBCRM_CONSENT_ANALYTICS_DEFAULT
    )


def check_purpose(purpose: str) -> str:
    if purpose not in Purpose.values:
        raise ConsentError(
            "purpose",
            _("unknown purpose %(purpose)s; expected one of %(choices)s")
            % {"purpose": purpose, "choices": ", ".join(Purpose.values)},
        )
    return purpose


def patron_is_child(patron: Patron, today: date | None = None) -> bool:
    """Under 14 (a guardian decides for them)."""
    today = today or timezone.localdate()
    return rules.is_child(age_in_year(patron.birth_year, today), patron.category)


def may_decide_for_children(guardian: Patron, today: date | None = None) -> bool:
    """Holds the household role (guardian, head) and age (18+) to consent for its children."""
    today = today or timezone.localdate()
    age = age_in_year(guardian.birth_year, today)
    return (
        guardian.household_id is not None
        and guardian.household_role in rules.GUARDIAN_ROLES
        and age is not None
        and age >= rules.GUARDIAN_MIN_AGE
    )


def children_in_care(guardian: Patron, today: date | None = None) -> list[Patron]:
    """The children under 14 of ``guardian``'s household that ``guardian`` may consent for."""
    today = today or timezone.localdate()
    if not may_decide_for_children(guardian, today):
        return []
    members = Patron.objects.filter(household_id=guardian.household_id).exclude(pk=guardian.pk)
    return [p for p in members.order_by("id") if patron_is_child(p, today)]


def guardians_of(child: Patron, today: date | None = None) -> list[Patron]:
    """The patrons who may consent for ``child``: adults of its household whose role is
    guardian or head. Empty for a patron of 14 or over."""
    today = today or timezone.localdate()
    if child.household_id is None or not patron_is_child(child, today):
        return []
    members = Patron.objects.filter(
        household_id=child.household_id, household_role__in=rules.GUARDIAN_ROLES
    ).exclude(pk=child.pk)
    return [m for m in members.order_by("id") if may_decide_for_children(m, today)]


def latest_wordings(at: datetime | None = None) -> dict[str, ConsentWording]:
    """The wording in force for each purpose: the highest version already published."""
    at = at or timezone.now()
    latest: dict[str, ConsentWording] = {}
    for wording in ConsentWording.objects.filter(published_at__lte=at).order_by(
        "purpose", "-version"
    ):
        latest.setdefault(wording.purpose, wording)
    return latest


def current_wording(purpose: str) -> ConsentWording | None:
    return (
        ConsentWording.objects.filter(
            purpose=check_purpose(purpose), published_at__lte=timezone.now()
        )
        .order_by("-version")
        .first()
    )


def has_consent(patron: Patron, purpose: str) -> bool:
    """May the library use ``patron``'s data for ``purpose`` now? One indexed lookup; the
    default (see :mod:`libcrm.consent.rules`) when the patron never chose."""
    state = (
        ConsentRecord.objects.filter(
            patron_id=patron.pk, purpose=check_purpose(purpose), current=True
        )
        .values_list("granted", flat=True)
        .first()
    )
    if state is None:
        return default_for(purpose, child=patron_is_child(patron))
    return state


def patron_keys_with_consent(purpose: str, today: date | None = None) -> set[str]:
    """The ``patron_key`` of every patron :func:`has_consent` says yes for, in two queries
    (for retention, analytics and outreach runs over everyone)."""
    check_purpose(purpose)
    current = ConsentRecord.objects.filter(purpose=purpose, current=True)
    keys = set(current.filter(granted=True).values_list("patron__patron_key", flat=True))
    if default_for(purpose, child=False):
        today = today or timezone.localdate()
        youngest_adult_year = today.year - rules.AGE_OF_CONSENT
        by_default = (
            Patron.objects.exclude(pk__in=current.values("patron_id"))
            .filter(
                Q(birth_year__lte=youngest_adult_year)
                | (Q(birth_year__isnull=True) & ~Q(category="child"))
            )
            .values_list("patron_key", flat=True)
        )
        keys.update(by_default)
    return keys


@dataclass(frozen=True)
class ConsentState:
    """Where one purpose stands for one patron. ``chosen`` is False while the default
    applies; then ``wording`` is the one in force (what the patron would agree to)."""

    purpose: str
    label: str
    granted: bool
    chosen: bool
    wording: ConsentWording | None
    latest: ConsentWording | None
    at: datetime | None = None
    via: str = ""
    by_guardian: bool = False

    @property
    def via_label(self) -> str:
        return str(ConsentVia(self.via).label) if self.via in ConsentVia.values else self.via

    @property
    def wording_changed(self) -> bool:
        """The patron chose under an older wording than the one now in force."""
        return (
            self.chosen
            and self.wording is not None
            and self.latest is not None
            and self.wording.version < self.latest.version
        )


def consents_of(patron: Patron) -> list[ConsentState]:
    """Every purpose, in a fixed order, with the wording version the choice was made under."""
    records = {
        r.purpose: r
        for r in ConsentRecord.objects.filter(patron=patron, current=True).select_related("wording")
    }
    latest = latest_wordings()
    child = patron_is_child(patron)
    states = []
    for purpose, label in Purpose.choices:
        record = records.get(purpose)
        if record is None:
            states.append(
                ConsentState(
                    purpose=purpose,
                    label=str(label),
                    granted=default_for(purpose, child=child),
                    chosen=False,
                    wording=latest.get(purpose),
                    latest=latest.get(purpose),
                )
            )
            continue
        states.append(
            ConsentState(
                purpose=purpose,
                label=str(label),
                granted=record.granted,
                chosen=True,
                wording=record.wording,
                latest=latest.get(purpose),
                at=record.at,
                via=record.via,
                by_guardian=record.guardian_id is not None,
            )
        )
    return states


def consent_history(patron: Patron) -> QuerySet[ConsentRecord]:
    """Every choice the patron (or a guardian, or staff for them) ever made, newest first."""
    return (
        ConsentRecord.objects.filter(patron=patron).select_related("wording").order_by("-at", "-id")
    )
