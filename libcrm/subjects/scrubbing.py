"""Making deleted personal data physically gone from the database files.

A database forgets a deleted row logically, not physically: SQLite leaves its bytes in free
space inside pages, on free pages and in the write-ahead log; an index keeps copies of keys as
dividers in its interior pages even after the entry is gone. So, for SQLite:

* every connection runs with ``PRAGMA secure_delete=ON`` (deleted content is overwritten with
  zeros, free pages too) — connected in :class:`~libcrm.subjects.apps.SubjectsConfig`. Debian's
  SQLite is built with it on by default; other builds (macOS, some wheels) are not, and with it
  off the erasure test finds the patron's keys, ciphertexts and digests in the file;
* after an erasure, the indexes over patron keys and uuids are rebuilt (``REINDEX``: no stale
  divider survives) and the WAL is checkpointed and truncated.

PostgreSQL keeps dead row versions until ``VACUUM``; erasure vacuums the tables it touched.
Plain ``VACUUM`` makes the space reusable but does not zero it, and the server's WAL and any
WAL archive keep the old rows until they are recycled or expire — see docs/privacy-operations.md.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection

logger = logging.getLogger(__name__)

# Columns that hold a patron's key or uuid, whose indexes are rebuilt after an erasure.
_KEY_COLUMNS = {"patron_key", "uuid", "target"}
_TABLES = ("patrons_patron", "privacy_auditevent")
_VACUUM_TABLES = (
    "patrons_patron",
    "patrons_identifier",
    "patrons_nameterm",
    "patrons_household",
    "privacy_auditevent",
)


def enable_secure_delete(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: zero deleted content on SQLite connections."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete=ON")


def scrub_after_erasure() -> dict[str, Any]:
    """Physically remove what an erasure deleted; a no-op inside an open transaction (the
    work is done by the outermost caller's next erasure, or by the operator, see the docs)."""
    if connection.in_atomic_block:
        return {"scrubbed": False}
    if connection.vendor == "sqlite":
        return _scrub_sqlite()
    if connection.vendor == "postgresql":
        return _vacuum_postgresql()
    return {"scrubbed": False}


def _scrub_sqlite() -> dict[str, Any]:
    with connection.cursor() as cursor:
        indexes = []
        for table in _TABLES:
            cursor.execute(f"PRAGMA index_list('{table}')")
            for row in cursor.fetchall():
                name = row[1]
                cursor.execute(f"PRAGMA index_info('{name}')")
                if {info[2] for info in cursor.fetchall()} & _KEY_COLUMNS:
                    indexes.append(name)
        for name in indexes:
            cursor.execute(f'REINDEX "{name}"')
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _frames, _done = cursor.fetchone()
    if busy:
        logger.warning("the WAL could not be fully checkpointed: another connection is reading")
    return {"scrubbed": True, "reindexed": len(indexes), "wal_truncated": not busy}


def _vacuum_postgresql() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(_VACUUM_TABLES)}")
    return {"scrubbed": True, "vacuumed": len(_VACUUM_TABLES)}
