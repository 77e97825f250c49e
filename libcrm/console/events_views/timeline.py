"""The patron page's interaction history: the timeline (newest first, 50 at a time, filtered by
type and channel) and the activity charts.

Both are parts of the patron page (:func:`patron_events_context`) and, for htmx, fragments of
their own (:func:`patron_timeline`, :func:`patron_activity`). A fragment shows personal data
just as the page does, so each load is recorded in the audit trail as a view of the patron.
Without JavaScript the same links and forms reload the whole page with the same parameters.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from libcrm.catalog.selectors import ClassLabel, class_labels, item_titles
from libcrm.console.access import permission_required
from libcrm.console.events_views.activity import (
    DEFAULT_PERIOD,
    PERIODS,
    WINDOWS,
    ActivitySummary,
    since,
    summarise,
)
from libcrm.console.events_views.labels import (
    CHANNEL_GROUPS,
    branch_names,
    channel_choices,
    channel_label,
    family_label,
    family_of,
    type_choices,
    type_label,
)
from libcrm.events import selectors
from libcrm.events.errors import EventError
from libcrm.events.schema import EVENT_TYPES, EventType, Family
from libcrm.events.store import TimelineCursor
from libcrm.patrons.models import Patron
from libcrm.patrons.selectors import get_patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.roles import VIEW_PERSONAL

log = logging.getLogger(__name__)

PAGE_SIZE = 50
FAMILY_PREFIX = "family:"
GROUP_PREFIX = "group:"


# --- filters and the "older" cursor ----------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(cursor: TimelineCursor) -> str:
    """An "older" link's cursor: the last event's time (µs) and id, URL-safe."""
    delta = cursor.occurred_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    text = f"{micros}|{cursor.event_id}".encode()
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def decode_cursor(value: str) -> TimelineCursor | None:
    """The cursor of an "older" link, or ``None`` for anything that is not one (a stale or
    edited address shows the newest events rather than an error)."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        micros, event_id = text.split("|", 1)
        at = _EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        return None
    return TimelineCursor(at, event_id) if event_id else None


@dataclass(frozen=True)
class TimelineFilters:
    """What the staff member asked for: a type or family, a channel or channel group, and
    where the page starts (``before``)."""

    type: str = ""
    channel: str = ""
    before: TimelineCursor | None = None

    @classmethod
    def from_query(cls, query: QueryDict) -> TimelineFilters:
        kinds = EVENT_TYPES | {f"{FAMILY_PREFIX}{f.value}" for f in Family}
        channels = {c for c, _ in channel_choices()} | {
            f"{GROUP_PREFIX}{g.code}" for g in CHANNEL_GROUPS
        }
        kind = query.get("type", "")
        channel = query.get("channel", "")
        kind = kind if kind in kinds else ""
        channel = channel if channel in channels else ""
        before = decode_cursor(query.get("before", "")) if query.get("before") else None
        return cls(kind, channel, before)

    @property
    def types(self) -> list[str] | None:
        if not self.type:
            return None
        if self.type.startswith(FAMILY_PREFIX):
            family = self.type.removeprefix(FAMILY_PREFIX)
            return [t.value for t in EventType if t.family.value == family]
        return [self.type]

    @property
    def channels(self) -> list[str] | None:
        if not self.channel:
            return None
        if self.channel.startswith(GROUP_PREFIX):
            code = self.channel.removeprefix(GROUP_PREFIX)
            return [str(c) for g in CHANNEL_GROUPS if g.code == code for c in g.channels]
        return [self.channel]

    @property
    def active(self) -> bool:
        return bool(self.type or self.channel)


# --- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    event_id: str
    occurred_at: datetime
    type: str
    type_label: str
    family: str
    family_label: str
    channel: str
    channel_label: str
    branch: str
    branch_label: str
    space: str
    item_id: str
    item_title: str
    subject: str
    subject_class: ClassLabel | None
    quantity: float | None
    duration_s: int | None
    source: str
    attrs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def duration_minutes(self) -> int | None:
        return None if self.duration_s is None else max(1, round(self.duration_s / 60))


def timeline_rows(events: list[dict[str, Any]]) -> list[TimelineRow]:
    """Events with their labels: titles, classes and branch names in one query each."""
    titles = item_titles(e["item_id"] for e in events if e.get("item_id"))
    classes = class_labels(e["subject"] for e in events if e.get("subject"))
    branches = branch_names({e["branch"] for e in events if e.get("branch")})
    rows = []
    for e in events:
        family = family_of(e["type"])
        rows.append(
            TimelineRow(
                event_id=e["event_id"],
                occurred_at=e["occurred_at"],
                type=e["type"],
                type_label=type_label(e["type"]),
                family=family,
                family_label=family_label(family) if family else "",
                channel=e["channel"],
                channel_label=channel_label(e["channel"]),
                branch=e.get("branch") or "",
                branch_label=branches.get(e.get("branch") or "", e.get("branch") or ""),
                space=e.get("space") or "",
                item_id=e.get("item_id") or "",
                item_title=titles.get(e.get("item_id") or "", ""),
                subject=e.get("subject") or "",
                subject_class=classes.get(e.get("subject") or ""),
                quantity=e.get("quantity"),
                duration_s=e.get("duration_s"),
                source=e.get("source") or "",
                attrs=_attr_pairs(e.get("attrs")),
            )
        )
    return rows


def _attr_pairs(attrs: Any) -> list[tuple[str, str]]:
    """An event's attributes as sorted (key, value) pairs: Arrow hands a map column to Python
    as a list of pairs, a dict-shaped source as a dict."""
    if not attrs:
        return []
    return sorted(attrs.items() if isinstance(attrs, dict) else (tuple(p) for p in attrs))


# --- the two parts -----------------------------------------------------------------------


@dataclass
class TimelinePart:
    filters: TimelineFilters
    rows: list[TimelineRow]
    older: str | None  # the cursor of the next page, if there is one
    type_choices: list[tuple[str, list[tuple[str, str]]]]
    channel_choices: list[tuple[str, str]]
    channel_groups: list[tuple[str, str]]
    families: list[tuple[str, str]]
    error: str = ""


def timeline_part(patron: Patron, query: QueryDict) -> TimelinePart:
    filters = TimelineFilters.from_query(query)
    part = TimelinePart(
        filters=filters,
        rows=[],
        older=None,
        type_choices=type_choices(),
        channel_choices=channel_choices(),
        channel_groups=[(f"{GROUP_PREFIX}{g.code}", str(g.label)) for g in CHANNEL_GROUPS],
        families=[(f"{FAMILY_PREFIX}{f.value}", family_label(f.value)) for f in Family],
    )
    try:
        timeline = selectors.patron_timeline(
            patron.patron_key,
            limit=PAGE_SIZE,
            before=filters.before,
            types=filters.types,
            channels=filters.channels,
        )
    except (EventError, OSError) as exc:
        log.exception("timeline of %s could not be read", patron.patron_key)
        part.error = str(exc)
        return part
    part.rows = timeline_rows(timeline.events)
    if timeline.next_cursor is not None:
        part.older = encode_cursor(timeline.next_cursor)
    return part


def activity_part(patron: Patron, query: QueryDict) -> ActivitySummary | None:
    period = query.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    now = timezone.now()
    try:
        windows = {
            days: selectors.patron_activity(patron.patron_key, since=since(now, days))
            for days in WINDOWS
        }
        days = PERIODS[period]
        shown = windows.get(days) if days is not None else None
        if shown is None:
            shown = selectors.patron_activity(patron.patron_key, since=since(now, days))
    except (EventError, OSError):
        log.exception("activity of %s could not be read", patron.patron_key)
        return None
    return summarise(period, shown, [windows[d] for d in WINDOWS])


def patron_events_context(request: HttpRequest, patron: Patron) -> dict[str, Any]:
    """The timeline and activity parts of the patron page (the caller audits the view)."""
    return {
        "timeline": timeline_part(patron, request.GET),
        "activity": activity_part(patron, request.GET),
        "library_time_zone": settings.TIME_ZONE,
    }


# --- htmx fragments (and their whole-page fallbacks) ----------------------------------------


def _audited_patron(request: HttpRequest, uuid: UUID, part: str, **detail: Any) -> Patron:
    patron = get_patron(uuid)
    if patron is None:
        raise Http404
    record_audit_event(
        Actor.from_request(request),
        AuditAction.VIEW_PATRON,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"part": part, **detail},
    )
    return patron


def _whole_page(uuid: UUID, request: HttpRequest, anchor: str) -> HttpResponse:
    """A fragment address opened directly (a bookmark, a link opened in a new tab): the
    patron page shows the same part, with the same parameters."""
    target = reverse("console:patron-detail", kwargs={"uuid": uuid})
    query = request.GET.urlencode()
    return redirect(f"{target}?{query}#{anchor}" if query else f"{target}#{anchor}")


@never_cache
@permission_required(VIEW_PERSONAL)
def patron_timeline(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """The timeline part alone (htmx swaps it in place: filters, older, newest)."""
    if not request.headers.get("HX-Request"):
        return _whole_page(uuid, request, "timeline")
    filters = TimelineFilters.from_query(request.GET)
    patron = _audited_patron(
        request,
        uuid,
        "timeline",
        filters=sorted(k for k in ("type", "channel") if getattr(filters, k)),
        older=filters.before is not None,
    )
    context = {
        "patron": patron,
        "timeline": timeline_part(patron, request.GET),
        "library_time_zone": settings.TIME_ZONE,
    }
    return render(request, "events/_patron_timeline.html", context)


@never_cache
@permission_required(VIEW_PERSONAL)
def patron_activity(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """The activity part alone, for another period."""
    if not request.headers.get("HX-Request"):
        return _whole_page(uuid, request, "activity")
    patron = _audited_patron(request, uuid, "activity", period=request.GET.get("period", ""))
    context = {
        "patron": patron,
        "activity": activity_part(patron, request.GET),
        "library_time_zone": settings.TIME_ZONE,
    }
    return render(request, "events/_patron_activity.html", context)
