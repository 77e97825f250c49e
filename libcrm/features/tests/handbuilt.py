"""A small hand-built event set whose features are worked out by hand in the tests, and a way
to run the feature expression on it with DuckDB alone (no store, no Django)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from libcrm.events import schema
from libcrm.events.tests.factories import patron_key
from libcrm.features.definitions import (
    ALIAS_COLUMNS,
    CLASS_COLUMNS,
    EVENT_COLUMNS,
    FeatureParams,
    feature_expression,
    finish,
    subject_classes,
)

READER = patron_key(1)
MERGED_OLD, MERGED_NEW = patron_key(2), patron_key(3)
ONLY_MESSAGES = patron_key(4)
AS_OF = date(2025, 6, 30)  # a Monday
PARAMS = FeatureParams(
    as_of=AS_OF,
    tz="Asia/Shanghai",
    data_start=datetime(2024, 1, 1, tzinfo=UTC),
    spaces_24h=("24h",),
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(key: str, when: str, type_: str, channel: str = "physical", **extra: Any) -> dict:
    return {"patron_key": key, "occurred_at": at(when), "type": type_, "channel": channel, **extra}


# Times are UTC; the library (Asia/Shanghai) is 8 hours ahead.
READER_EVENTS = [
    event(READER, "2025-06-30 15:30", "gate_in"),  # Mon 23:30 local: night, day 0
    event(READER, "2025-06-28 02:00", "loan", subject="TP311.13"),  # Sat 10:00
    event(READER, "2025-06-28 03:00", "download", "web", subject="TP391"),  # Sat 11:00
    event(READER, "2025-05-01 12:00", "eresource_access", "app", subject="I247.5"),  # Thu
    event(READER, "2025-03-01 18:00", "gate_in", branch="24h"),  # Sun 02:00: night, 24 h
    event(READER, "2025-06-10 04:00", "survey_answer", "wechat", quantity=8.0),
    event(READER, "2025-06-11 04:00", "feedback", "web", attrs={"score": "6"}),
    event(READER, "2025-06-29 07:00", "program_attendance"),  # Sun 15:00
    event(READER, "2024-01-15 04:00", "web_visit", "web"),  # first seen, outside every window
    event(READER, "2025-06-30 10:00", "gate_out"),  # end of a visit: not counted
    event(READER, "2025-06-20 10:00", "message_out", "wechat"),  # sent by the library
    event(READER, "2025-06-30 16:30", "loan"),  # 00:30 on 1 July local: after as-of
]
MERGED_EVENTS = [
    event(MERGED_OLD, "2025-06-01 02:00", "loan", subject="O13"),
    event(MERGED_NEW, "2025-06-02 02:00", "loan", subject="O13"),
    event(MERGED_NEW, "2025-06-02 05:00", "web_visit", "web"),
]
MESSAGE_EVENTS = [event(ONLY_MESSAGES, "2025-06-01 02:00", "message_out", "email")]


def events_table(rows: list[dict]) -> pa.Table:
    """The rows as the feature expression reads them (time as UTC microseconds)."""
    fields = [
        pa.field(name, pa.int64()) if name == "occurred_at_us" else schema.EVENT_SCHEMA.field(name)
        for name in EVENT_COLUMNS
    ]
    full = [
        {
            **{name: row.get(name) for name in EVENT_COLUMNS},
            "occurred_at_us": int(row["occurred_at"].timestamp()) * 1_000_000,
        }
        for row in rows
    ]
    return pa.Table.from_pylist(full, schema=pa.schema(fields))


def run(
    rows: list[dict],
    params: FeatureParams = PARAMS,
    aliases: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Features by patron key, computed by DuckDB from the compiled expression."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    table = events_table(rows)
    con.register("ev", table)
    con.register("cl", subject_classes(table.column("subject").to_pylist()))
    alias_expr = None
    if aliases:
        con.register("al", pa.table({"old_key": list(aliases), "new_key": list(aliases.values())}))
        alias_expr = ibis.table(ALIAS_COLUMNS, name="al")
    events = ibis.table(EVENT_COLUMNS, name="ev")
    expr = feature_expression(events, alias_expr, ibis.table(CLASS_COLUMNS, name="cl"), params)
    result = finish(con.execute(str(ibis.to_sql(expr, dialect="duckdb"))).to_arrow_table())
    return {row.pop("patron_key"): row for row in result.to_pylist()}
