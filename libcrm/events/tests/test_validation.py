"""Validation: good rows pass, each kind of bad row is reported by row, field and reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from libcrm.events import schema
from libcrm.events.errors import EventSchemaError
from libcrm.events.tests.factories import event_rows, event_table, patron_key
from libcrm.events.validation import validate

NOW = datetime(2025, 8, 1, tzinfo=UTC)


def good(**changes: Any) -> dict[str, Any]:
    row = {
        "event_id": "koha:1",
        "patron_key": patron_key(1),
        "occurred_at": "2025-05-01T10:00:00+08:00",
        "type": "loan",
        "channel": "physical",
        "source": "koha",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def problems(rows: list[Any] | pa.Table, **kwargs: Any) -> dict[tuple[int, str], str]:
    result = validate(rows, now=NOW, **kwargs)
    return {(r.row, r.field): r.reason for r in result.rejects}


def test_a_good_row_is_accepted_in_utc() -> None:
    result = validate([good(attrs={"call_no": "TP311/12", "copies": 2}, duration_s="30")], now=NOW)
    assert result.rejects == [] and result.rejected_rows == 0
    row = result.accepted.to_pylist()[0]
    assert row["occurred_at"] == datetime(2025, 5, 1, 2, 0, tzinfo=UTC)
    assert row["attrs"] == [("call_no", "TP311/12"), ("copies", "2")]
    assert row["duration_s"] == 30
    assert result.accepted.schema == schema.INPUT_SCHEMA


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"type": "lend"}, "type", "is not a known event type"),
        ({"channel": "fax"}, "channel", "is not a known channel"),
        ({"occurred_at": ...}, "occurred_at", "is required"),
        ({"occurred_at": "yesterday"}, "occurred_at", "is not a valid RFC 3339 timestamp"),
        ({"occurred_at": "2025-05-01T10:00:00"}, "occurred_at", "has no UTC offset"),
        ({"occurred_at": "2025-08-01T00:06:00Z"}, "occurred_at", "is in the future"),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at", "is before 1980-01-01"),
        ({"patron_key": "pk123"}, "patron_key", "must be pk followed by 24 base32"),
        ({"patron_key": "PK" + "A" * 24}, "patron_key", "must be pk followed by 24 base32"),
        ({"patron_key": schema.ANONYMOUS_PATRON_KEY}, "patron_key", "is reserved"),
        ({"patron_key": ...}, "patron_key", "is required"),
        ({"event_id": "x" * 65}, "event_id", "is longer than 64 characters"),
        ({"event_id": "借阅-1"}, "event_id", "must be printable ASCII"),
        ({"branch": "b" * 33}, "branch", "is longer than 32 characters"),
        ({"item_id": "i" * 65}, "item_id", "is longer than 64 characters"),
        ({"source": " koha"}, "source", "must be printable text"),
        ({"quantity": float("nan")}, "quantity", "must be a finite number"),
        ({"quantity": "many"}, "quantity", "is not a valid number"),
        ({"duration_s": -5}, "duration_s", "must be between 0 and"),
        ({"duration_s": 12.5}, "duration_s", "is not a valid whole number"),
        ({"attrs": {f"k{i}": "v" for i in range(17)}}, "attrs", "has more than 16 entries"),
        ({"attrs": {"note": "x" * 1025}}, "attrs", "values must be at most 1024"),
        ({"attrs": {f"k{i}": "é" * 300 for i in range(8)}}, "attrs", "larger than 4096 bytes"),
        ({"attrs": {"": "v"}}, "attrs", "names must be 1-64 printable characters"),
        ({"attrs": {"k": {"nested": 1}}}, "attrs", "must be an object of text values"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_each_kind_of_bad_row_is_reported(change: dict[str, Any], field: str, reason: str) -> None:
    found = problems([good(event_id="ok"), good(**change)])
    assert (0, field) not in found
    assert reason in found[(1, field)], found


def test_bad_rows_never_stop_good_ones_and_map_back_to_their_index() -> None:
    rows = [good(event_id="a"), "not an object", good(event_id="c", type="?"), good(event_id="d")]
    result = validate(rows, now=NOW)
    assert result.accepted.column("event_id").to_pylist() == ["a", "d"]
    assert result.accepted_index.to_pylist() == [0, 3]
    assert result.rejected_rows == 2
    assert [(r.row, r.field) for r in result.rejects] == [(1, ""), (2, "type")]
    assert str(result.rejects[1]) == "row 2: type: is not a known event type (got '?')"


def test_a_row_is_reported_once_per_problem_not_again_as_missing() -> None:
    found = problems([good(occurred_at="garbage", type=None)])
    assert found == {
        (0, "occurred_at"): "is not a valid RFC 3339 timestamp",
        (0, "type"): "is required",
    }


def test_clock_skew_is_tolerated_up_to_the_limit() -> None:
    soon = (NOW + timedelta(minutes=4)).isoformat()
    assert problems([good(occurred_at=soon)]) == {}
    assert problems([good(occurred_at=soon)], max_skew=timedelta(minutes=1))


def test_arrow_tables_are_checked_column_by_column() -> None:
    table = event_table(50, seed=3)
    bad_types = table.column("type").to_pylist()
    bad_types[7] = "teleport"
    keys = table.column("patron_key").to_pylist()
    keys[9] = "nobody"
    table = table.set_column(3, "type", pa.array(bad_types)).set_column(
        1, "patron_key", pa.array(keys)
    )
    result = validate(table, now=NOW)
    assert result.accepted.num_rows == 48
    assert [(r.row, r.field) for r in result.rejects] == [(7, "type"), (9, "patron_key")]
    assert 7 not in result.accepted_index.to_pylist()


def test_arrow_input_from_connectors_is_coerced() -> None:
    """Connectors hand over int64 quantities and durations, ISO text times, no optional
    columns: all fine."""
    table = pa.table(
        {
            "event_id": ["a", "b"],
            "patron_key": [patron_key(1), patron_key(2)],
            "occurred_at": ["2025-01-01T00:00:00Z", "2025-01-01T08:00:00+08:00"],
            "type": ["loan", "return"],
            "channel": ["physical", "kiosk"],
            "source": ["koha", "koha"],
            "quantity": pa.array([1, None], pa.int64()),
            "duration_s": pa.array([None, 10_000_000_000], pa.int64()),
        }
    )
    result = validate(table, now=NOW)
    assert result.accepted.column("quantity").to_pylist() == [1.0]
    assert [(r.row, r.field) for r in result.rejects] == [(1, "duration_s")]
    assert result.accepted.column("branch").null_count == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"event_id": ["a"]}), "required column(s) missing"),
        (event_table(1).append_column("colour", pa.array(["red"])), "unknown column(s) colour"),
        (
            event_table(1).set_column(
                2, "occurred_at", pa.array([datetime(2025, 1, 1)], pa.timestamp("us"))
            ),
            "occurred_at has no time zone",
        ),
    ],
)
def test_a_table_of_the_wrong_shape_is_a_connector_bug(table: pa.Table, message: str) -> None:
    with pytest.raises(EventSchemaError, match=re.escape(message)):
        validate(table, now=NOW)


def test_reject_details_are_bounded_but_the_count_is_exact() -> None:
    rows = [good(event_id=str(i), type="nope") for i in range(100)]
    result = validate(rows, now=NOW, max_rejects=10)
    assert result.rejected_rows == 100 and len(result.rejects) == 10 and result.truncated
    assert [r.row for r in result.rejects] == list(range(10))


def test_store_fields_sent_by_a_source_are_ignored() -> None:
    rows = event_rows(1)
    rows[0].update(schema_version=99, batch_id="forged", ingested_at="2020-01-01T00:00:00Z")
    result = validate(rows, now=NOW)
    assert result.rejects == [] and "batch_id" not in result.accepted.column_names


def test_an_empty_attribute_map_is_stored_as_none() -> None:
    result = validate([good(attrs={}), good(event_id="b", attrs={"k": "v"})], now=NOW)
    assert result.accepted.column("attrs").to_pylist() == [None, [("k", "v")]]
