"""Keeping snapshot member files in step with erasure: an erased patron's key is removed
from every snapshot (connected in :meth:`SegmentsConfig.ready`)."""

from __future__ import annotations

import logging
from typing import Any

from libcrm.segments import services

log = logging.getLogger(__name__)


def on_patron_erased(sender: Any, patron_key: str, **kwargs: Any) -> None:
    services.drop_patron_from_snapshots(patron_key)


def connect() -> None:
    from libcrm.privacy.signals import patron_erased

    patron_erased.connect(on_patron_erased, dispatch_uid="segments.patron_erased")
