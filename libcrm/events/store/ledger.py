"""What the store needs from its batch ledger, without knowing where the ledger lives.

The ledger row of an append is its commit point: files written but not committed in the ledger
are rolled back by recovery, committed ones are made visible. The Django implementation
(:mod:`libcrm.events.ledger`) keeps it in the relational store beside every other record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class BatchState(StrEnum):
    PENDING = "pending"  # files may be on disk; invisible; rolled back if the writer dies
    COMMITTED = "committed"  # durable and (after publish) visible
    ROLLED_BACK = "rolled_back"  # interrupted; recovery removed its files
    SKIPPED = "skipped"  # same content as a committed batch: nothing written


@dataclass
class BatchRecord:
    batch_id: str
    store_id: str
    source: str
    digest: str
    state: BatchState = BatchState.PENDING
    received: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    seq: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    note: str = ""


class Ledger(Protocol):
    """Every method must be durable when it returns (its own committed transaction)."""

    def begin(self, record: BatchRecord) -> None:
        """Record a pending batch before any of its files exist."""

    def commit(self, record: BatchRecord) -> None:
        """Mark the batch committed with its counts, files and sequence number."""

    def skip(self, record: BatchRecord) -> None:
        """Record a batch that was not written because its content was committed before."""

    def roll_back(self, batch_id: str, note: str) -> None:
        """Mark a pending batch as rolled back (its files are gone or about to be)."""

    def find_committed(self, store_id: str, digest: str) -> BatchRecord | None:
        """A committed batch of this store with this content digest and no rejects."""

    def pending(self, store_id: str) -> Sequence[BatchRecord]:
        """Batches of this store still pending (their writer died or is still running)."""

    def committed_since(self, store_id: str, seq: int) -> Sequence[BatchRecord]:
        """Committed batches with a sequence number above ``seq``, in order."""
