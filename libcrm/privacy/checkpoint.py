"""The audit chain's checkpoint: the last ``seq`` and seal known to be committed, kept in a small
file outside the database (``LIBCRM_AUDIT_CHECKPOINT``).

Deleting records from the end of the chain leaves a shorter chain that is still consistent;
only a witness kept elsewhere can tell. The file is advanced after each commit that appends
audit records, never moved backwards (appends from several processes may commit out of order),
under a file lock. It guards against someone who can change the database but not this
file; copying it off the machine (see docs/operators.md) guards against more.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path

from django.conf import settings

from libcrm.privacy.chain import Checkpoint

logger = logging.getLogger(__name__)


def path() -> Path:
    return Path(settings.LIBCRM_AUDIT_CHECKPOINT)


class CheckpointError(Exception):
    """The checkpoint file exists but cannot be read; the message names the file."""


def read(source: Path | None = None) -> Checkpoint | None:
    """The checkpoint (or a copy of one at ``source``), or None when there is none yet."""
    source = source or path()
    try:
        fd = os.open(source, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        raw = os.pread(fd, 4096, 0)
    finally:
        os.close(fd)
    point = _parse(raw)
    if point is None:
        raise CheckpointError(
            f"the audit checkpoint {source} is unreadable; if the chain verifies otherwise, "
            "re-anchor it with: libcrm audit reset-checkpoint"
        )
    return point


def write(point: Checkpoint) -> None:
    """Set the checkpoint to ``point``, even backwards (only for re-anchoring it)."""
    _update(point, only_forward=False)


def advance(point: Checkpoint) -> None:
    """Move the checkpoint forward to ``point`` unless it is already further along.

    Runs after every commit that appended audit records, so it rewrites the file in place under
    an exclusive lock (one small write; a rename per append costs milliseconds on some file
    systems). A failure here must not fail the request that was audited: it is logged, and
    ``libcrm audit verify`` shows the lag.
    """
    try:
        _update(point, only_forward=True)
    except OSError as exc:
        logger.error("could not advance the audit checkpoint %s: %s", path(), exc)


def _update(point: Checkpoint, *, only_forward: bool) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = _parse(os.pread(fd, 4096, 0))
        if only_forward and current is not None and current.seq >= point.seq:
            return
        body = json.dumps({"seq": point.seq, "hash": point.hash}).encode("ascii")
        os.pwrite(fd, body, 0)
        os.ftruncate(fd, len(body))
    finally:
        os.close(fd)  # releases the lock


def _parse(raw: bytes) -> Checkpoint | None:
    try:
        data = json.loads(raw)
        return Checkpoint(seq=int(data["seq"]), hash=str(data["hash"]))
    except (ValueError, KeyError, TypeError):
        return None
