"""Consent follows a patron's identity: erased with them (:mod:`libcrm.privacy.signals`).
Merges move consents inside the merge's own transaction, reversibly (``merge_patrons`` in
:mod:`libcrm.linkage.services` calls :func:`~libcrm.consent.services.move_consents`), so there
is no receiver for them. Connected in :class:`~libcrm.consent.apps.ConsentConfig`."""

from __future__ import annotations

from typing import Any

from libcrm.consent.models import ConsentRecord


def on_patron_erased(sender: Any, patron_key: str, **kwargs: Any) -> None:
    ConsentRecord.objects.filter(patron__patron_key=patron_key).delete()
    ConsentRecord.objects.filter(guardian__patron_key=patron_key).update(guardian=None)
