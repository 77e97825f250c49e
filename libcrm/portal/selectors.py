"""What the portal shows a patron about themselves: the record, identifiers (masked), a
summary of their interaction history and their consents."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from libcrm.console.events_views.labels import channel_label, family_label
from libcrm.console.events_views.timeline import TimelineRow, timeline_rows
from libcrm.events import selectors as events
from libcrm.events.errors import EventError
from libcrm.patrons.models import IDENTIFIER_KIND_LABELS, Patron
from libcrm.portal.models import PortalAccount

log = logging.getLogger(__name__)

RECENT_EVENTS = 10


@dataclass(frozen=True)
class MaskedIdentifier:
    kind: str
    label: str
    masked: str
    verified: bool


@dataclass
class HistorySummary:
    """The patron's interactions in plain words: how many, since when, of which kinds."""

    total: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    by_family: list[tuple[str, int]] = field(default_factory=list)
    by_channel: list[tuple[str, int]] = field(default_factory=list)
    recent: list[TimelineRow] = field(default_factory=list)
    unavailable: bool = False


def masked_identifiers(patron: Patron) -> list[MaskedIdentifier]:
    """Every identifier, masked as the console shows it; the full value never leaves here."""
    return [
        MaskedIdentifier(
            kind=i.kind,
            label=str(IDENTIFIER_KIND_LABELS.get(i.kind, i.kind)),
            masked=i.masked,
            verified=i.verified,
        )
        for i in patron.identifiers.all()
    ]


def history_summary(patron: Patron) -> HistorySummary:
    try:
        activity = events.patron_activity(patron.patron_key)
        recent = events.patron_timeline(patron.patron_key, limit=RECENT_EVENTS).events
    except (EventError, OSError):
        log.exception("interaction history could not be read for the portal")
        return HistorySummary(unavailable=True)
    by_count = sorted(activity.by_family.items(), key=lambda kv: -kv[1])
    channels = sorted(activity.by_channel.items(), key=lambda kv: -kv[1])
    return HistorySummary(
        total=activity.total,
        first_at=activity.first_at,
        last_at=activity.last_at,
        by_family=[(family_label(k), n) for k, n in by_count],
        by_channel=[(channel_label(k), n) for k, n in channels],
        recent=timeline_rows(recent),
    )


def portal_account(patron: Patron) -> PortalAccount | None:
    return PortalAccount.objects.filter(patron=patron).first()
