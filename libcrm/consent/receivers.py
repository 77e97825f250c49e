"""Consent follows a patron's identity: erased with them, moved when two records merge
(:mod:`libcrm.privacy.signals`). Connected in :class:`~libcrm.consent.apps.ConsentConfig`."""

from __future__ import annotations

from typing import Any

from libcrm.consent.models import ConsentRecord
from libcrm.consent.services import move_consents
from libcrm.patrons.models import Patron


def on_patron_erased(sender: Any, patron_key: str, **kwargs: Any) -> None:
    ConsentRecord.objects.filter(patron__patron_key=patron_key).delete()
    ConsentRecord.objects.filter(guardian__patron_key=patron_key).update(guardian=None)


def on_patrons_merged(sender: Any, survivor_key: str, merged_key: str, **kwargs: Any) -> None:
    """Sent after the merge committed: if the merged record still exists (it was marked merged,
    not deleted) and still holds consent records, they move now. A merge service that deletes
    the merged record calls :func:`~libcrm.consent.services.move_consents` itself first."""
    patrons = {
        p.patron_key: p for p in Patron.objects.filter(patron_key__in=[survivor_key, merged_key])
    }
    survivor, merged = patrons.get(survivor_key), patrons.get(merged_key)
    if survivor is None or merged is None:
        return
    if ConsentRecord.objects.filter(patron=merged).exists():
        move_consents(merged, survivor)
