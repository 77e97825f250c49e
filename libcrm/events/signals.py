"""Signals the event store sends, for the apps that keep derived data (features, segments).

``events_appended`` is sent by :func:`libcrm.events.services.append_events` after a call that
added at least one event, outside any transaction, with ``report`` (the
:class:`~libcrm.events.store.AppendReport`) and ``source``. Receivers must be quick or hand the
work off; an exception in a receiver is logged and never undoes the append.
"""

from django.dispatch import Signal

events_appended = Signal()
