"""Reads of data-subject requests: which patron records are one person."""

from __future__ import annotations

from django.apps import apps

from libcrm.patrons.models import Patron


def records_merged_into(patron: Patron) -> list[Patron]:
    """Records merged into ``patron`` (and into those, and so on): the same person, whose data
    an export includes and an erasure removes. Undone merges do not count."""
    try:
        merge = apps.get_model("linkage", "Merge")
    except LookupError:
        return []
    found: list[Patron] = []
    frontier = [patron.pk]
    seen = {patron.pk}
    while frontier:
        ids = list(
            merge.objects.filter(survivor_id__in=frontier, undone_at__isnull=True)
            .exclude(merged_id__in=seen)
            .values_list("merged_id", flat=True)
        )
        frontier = ids
        seen.update(ids)
        found.extend(Patron.objects.filter(pk__in=ids))
    return found
