"""The columnar event store: Parquet partitioned by month, a ledger, DuckDB to read it."""

from libcrm.events.store.ledger import BatchRecord, BatchState, Ledger
from libcrm.events.store.reader import PatronActivity, StoreOverview, Timeline, TimelineCursor
from libcrm.events.store.rewrite import RetentionRule, RewriteReport
from libcrm.events.store.store import EventStore, StoreOptions
from libcrm.events.store.writer import AppendReport, BatchReport, Progress

__all__ = [
    "AppendReport",
    "BatchRecord",
    "BatchReport",
    "BatchState",
    "EventStore",
    "Ledger",
    "PatronActivity",
    "Progress",
    "RetentionRule",
    "RewriteReport",
    "StoreOptions",
    "StoreOverview",
    "Timeline",
    "TimelineCursor",
]
