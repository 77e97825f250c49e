"""Signals about a patron's identity, for apps that keep data keyed by ``patron_key`` outside
the relational tables (features, segment snapshots, recommendations).

- ``patron_erased``: sent after a patron's erasure committed, with ``patron_key``. Receivers
  delete whatever they hold for that key.
- ``patrons_merged``: sent after a merge committed, with ``survivor_key`` and ``merged_key``.
- ``patrons_unmerged``: sent after an unmerge committed, with ``survivor_key`` and
  ``restored_key``.
"""

from django.dispatch import Signal

patron_erased = Signal()
patrons_merged = Signal()
patrons_unmerged = Signal()
