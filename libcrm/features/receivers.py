"""Keeping the feature table in step with the event store and the patron registry.

Connected in :meth:`FeaturesConfig.ready`. Once a full refresh has built the table, new
events refresh only the patrons they belong to; an erasure drops the patron's row; a merge
recomputes the survivor (and drops the merged key's row), an unmerge both patrons. Each
receiver logs and swallows its own failure: the table is derived data, and
``libcrm features refresh --full`` rebuilds it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

from libcrm.events.store import AppendReport
from libcrm.features import services

log = logging.getLogger(__name__)
Receiver = Callable[..., None]


def _logged(receiver: Receiver) -> Receiver:
    @functools.wraps(receiver)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            log.exception(
                "feature table not updated by %s; run `libcrm features refresh --full`",
                receiver.__name__,
            )

    return run


@_logged
def on_events_appended(sender: Any, report: AppendReport, **kwargs: Any) -> None:
    # Until a first full refresh built the table there is nothing to keep in step (and an
    # installation that never uses features pays a stat per append, nothing more).
    if not settings.LIBCRM_FEATURES_ON_APPEND or services.feature_file().read_provenance() is None:
        return
    # The batch alone is aggregated and merged into the kept partials (or, without them, its
    # patrons are recomputed over their whole history).
    services.refresh_appended_features(report)


@_logged
def on_patron_erased(sender: Any, patron_key: str, **kwargs: Any) -> None:
    services.drop_patron_features(patron_key)


@_logged
def on_patrons_merged(sender: Any, survivor_key: str, merged_key: str, **kwargs: Any) -> None:
    services.refresh_patron_features([survivor_key], drop=[merged_key])


@_logged
def on_patrons_unmerged(sender: Any, survivor_key: str, restored_key: str, **kwargs: Any) -> None:
    services.refresh_patron_features([survivor_key, restored_key])


def connect() -> None:
    from libcrm.events.signals import events_appended
    from libcrm.privacy.signals import patron_erased, patrons_merged, patrons_unmerged

    events_appended.connect(on_events_appended, dispatch_uid="features.events_appended")
    patron_erased.connect(on_patron_erased, dispatch_uid="features.patron_erased")
    patrons_merged.connect(on_patrons_merged, dispatch_uid="features.patrons_merged")
    patrons_unmerged.connect(on_patrons_unmerged, dispatch_uid="features.patrons_unmerged")
