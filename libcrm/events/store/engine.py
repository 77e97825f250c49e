"""The one way libcrm opens DuckDB over the event store.

Every connection is sandboxed: it can read and write only inside the store's folder, never
installs or loads extensions (the ones built into the wheel, parquet and ICU, are enough), and
its configuration is locked, so a query cannot loosen any of this. Values always travel as
parameters; SQL text comes only from this package.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

from libcrm.events.store import layout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(
    root: Path, *, threads: int = 2, memory_limit: str = "1GB"
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database confined to ``root``."""
    spill = root / layout.SPILL_DIR / f"p{os.getpid()}"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": threads,
            "memory_limit": memory_limit,
            # Order is asked for with ORDER BY where it matters; not preserving it otherwise
            # lets DuckDB stream big sorts (compaction) within memory_limit.
            "preserve_insertion_order": False,
        },
    )
    # SET takes no parameters; both paths are ours (the configured root), quoted for safety.
    con.execute(f"SET temp_directory = {_quote(str(spill))}")
    con.execute(f"SET allowed_directories = [{_quote(str(root) + '/')}]")
    # Partitions are UTC months; local time is always asked for explicitly (timezone($tz, ..)),
    # never inherited from the process (Django sets TZ to the library's zone).
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_external_access = false")
    con.execute("SET parquet_metadata_cache = true")
    con.execute("SET lock_configuration = true")
    return con


class Engine:
    """One DuckDB database per store and process, a cursor per thread (cursors share the
    database and its Parquet metadata cache, but not the query state, so threads of a web
    server can query at once)."""

    def __init__(self, root: Path, *, threads: int = 2, memory_limit: str = "1GB") -> None:
        self.root = root
        self.threads = threads
        self.memory_limit = memory_limit
        self._base: duckdb.DuckDBPyConnection | None = None
        self._guard = threading.Lock()
        self._local = threading.local()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._guard:
                if self._base is None:
                    self._base = connect(
                        self.root, threads=self.threads, memory_limit=self.memory_limit
                    )
                cur = self._base.cursor()
            self._local.cursor = cur
        return cur

    def close(self) -> None:
        with self._guard:
            if self._base is not None:
                self._base.close()
                self._base = None
        self._local = threading.local()
