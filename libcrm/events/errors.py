"""Errors of the events domain: each says what was wrong and what to do about it."""

from __future__ import annotations


class EventError(Exception):
    """Base class of every error raised by libcrm.events."""


class EventSchemaError(EventError):
    """A batch's shape is wrong (a column missing or of an unusable type): a connector bug, so
    the whole batch is refused rather than every row reported."""


class EventStoreError(EventError):
    """The event store cannot do what was asked (bad root, corrupt manifest, lock timeout)."""


class StoreCorrupt(EventStoreError):
    """The store's files and its manifest or ledger disagree in a way recovery cannot repair."""
