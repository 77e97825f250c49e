"""The audit chain: each audit record sealed with a keyed hash over its fields and the hash of
the record before it, so that altering, deleting or reordering records is detected.

The seal is HMAC-SHA256 under a key derived from the installation's keyring, not a bare hash:
someone who can write to the database but does not hold the key file cannot recompute the chain
after changing it. Two fields may be *redacted* without breaking the chain — the patron key and
the target, which erasure must be able to remove — because the seal covers a keyed digest of
each instead of the text itself: a blanked field is reported as redacted, a changed one as
altered. Nothing here imports Django.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSION = 1
GENESIS = "0" * 64
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class ChainRecord:
    """The sealed fields of one audit record, as stored."""

    seq: int
    at: datetime
    actor_label: str
    via: str
    action: str
    patron_digest: str
    target_digest: str
    ip: str | None
    detail: dict[str, Any]
    prev_hash: str


@dataclass(frozen=True)
class StoredRecord:
    """A record read back for verification: the sealed fields, the stored seal, and the
    redactable text that the digests vouch for."""

    record: ChainRecord
    hash: str
    patron_key: str
    target: str


@dataclass(frozen=True)
class Checkpoint:
    """The last sequence number and seal known to have been committed, kept outside the database
    so that cutting records off the end of the chain can be noticed."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Problem:
    """One break in the chain. ``kind`` is altered, deleted, truncated or relinked."""

    kind: str
    seq: int
    message: str
    until: int | None = None  # for a run of deleted records: the last missing seq


@dataclass
class ChainReport:
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str = GENESIS
    redacted: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0
    checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: ChainRecord) -> bytes:
    """The bytes a seal covers: a JSON array in fixed order, keys of ``detail`` sorted."""
    return json.dumps(
        [
            VERSION,
            record.seq,
            _timestamp(record.at),
            record.actor_label,
            record.via,
            record.action,
            record.patron_digest,
            record.target_digest,
            record.ip or "",
            record.detail,
            record.prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def seal(key: bytes, record: ChainRecord) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


def digest(key: bytes, purpose: str, text: str) -> str:
    """Keyed digest of a redactable field; empty text has no digest."""
    if not text:
        return ""
    message = purpose.encode("utf-8") + b"\x00" + text.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _check_redactable(
    key: bytes, report: ChainReport, seq: int, name: str, text: str, stored_digest: str
) -> bool:
    """Whether the text matches its digest; blank text over a digest counts as redacted."""
    if not text:
        if stored_digest:
            report.redacted += 1
        return True
    if hmac.compare_digest(digest(key, name, text), stored_digest):
        return True
    report.add(Problem("altered", seq, f"record {seq} was altered: its {name} was changed"))
    return False


def verify(
    key: bytes, stored: Iterable[StoredRecord], checkpoint: Checkpoint | None = None
) -> ChainReport:
    """Walk records in ``seq`` order and report every break, first one first.

    After a break the walk carries on from the record found, so that one deletion does not hide
    a later alteration.
    """
    report = ChainReport(checkpoint=checkpoint)
    expected_seq, expected_prev = 1, GENESIS
    checkpoint_seen = False
    for item in stored:
        record = item.record
        seq = record.seq
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
        if seq > expected_seq:
            report.add(
                Problem(
                    "deleted",
                    expected_seq,
                    f"records {expected_seq}–{seq - 1} are missing (deleted)"
                    if seq - 1 > expected_seq
                    else f"record {expected_seq} is missing (deleted)",
                    until=seq - 1,
                )
            )
        elif record.prev_hash != expected_prev:
            report.add(
                Problem(
                    "relinked",
                    seq,
                    f"record {seq} does not follow record {seq - 1}: the record before it was "
                    "replaced or the chain was rewritten from here",
                )
            )
        if not hmac.compare_digest(seal(key, record), item.hash):
            report.add(
                Problem("altered", seq, f"record {seq} was altered: its seal does not match")
            )
        _check_redactable(key, report, seq, "patron_key", item.patron_key, record.patron_digest)
        _check_redactable(key, report, seq, "target", item.target, record.target_digest)
        if checkpoint is not None and seq == checkpoint.seq:
            checkpoint_seen = True
            if not hmac.compare_digest(item.hash, checkpoint.hash):
                report.add(
                    Problem(
                        "altered",
                        seq,
                        f"record {seq} differs from the checkpoint taken when it was written",
                    )
                )
        expected_seq, expected_prev = seq + 1, item.hash
        report.last_seq, report.last_hash = seq, item.hash
    if checkpoint is not None and not checkpoint_seen and checkpoint.seq >= expected_seq:
        report.add(
            Problem(
                "truncated",
                expected_seq,
                f"records {expected_seq}–{checkpoint.seq} at the end of the chain are missing: "
                f"the checkpoint says record {checkpoint.seq} was written",
                until=checkpoint.seq,
            )
        )
    return report
