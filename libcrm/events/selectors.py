"""Reads of the event store for pages and the API, in the library's time zone
(``settings.TIME_ZONE``), and the ingestion history from the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from libcrm.events.models import EventBatch
from libcrm.events.services import event_store
from libcrm.events.store import PatronActivity, StoreOverview, Timeline, TimelineCursor


def patron_timeline(
    patron_key: str,
    *,
    limit: int = 50,
    before: datetime | TimelineCursor | None = None,
    types: Iterable[str] | None = None,
    channels: Iterable[str] | None = None,
) -> Timeline:
    return event_store().timeline(
        patron_key, limit=limit, before=before, types=types, channels=channels
    )


def patron_activity(
    patron_key: str, *, since: datetime | None = None, until: datetime | None = None
) -> PatronActivity:
    """Counts by type, channel and month, and the weekday × hour heatmap (local time)."""
    return event_store().patron_activity(
        patron_key, tz=settings.TIME_ZONE, since=since, until=until
    )


def store_overview() -> StoreOverview:
    return event_store().overview(tz=settings.TIME_ZONE)


def ingestion_history() -> QuerySet[EventBatch]:
    """Ledger batches of this installation's store, newest first."""
    return EventBatch.objects.filter(store=event_store().store_id).order_by("-started_at")
