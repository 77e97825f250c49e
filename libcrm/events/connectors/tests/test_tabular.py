"""Spreadsheets with a column mapping, and the upload preview."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from libcrm.events.connectors import tabular
from libcrm.events.connectors.base import IDENTIFIER_KINDS, ConnectorError
from libcrm.events.connectors.tabular import ColumnMapping
from libcrm.events.connectors.tests.collect import Collected, collect

MAPPING = ColumnMapping(
    columns={
        "时间": "occurred_at",
        "读者证号": "identifier_value",
        "活动": "type",
        "备注": "attrs.note",
    },
    constants={"identifier_kind": "library_card", "channel": "physical", "branch": "总馆"},
)


def workbook(rows: list[list[Any]], path: Path, sheet: str = "活动签到") -> Path:
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    book.create_sheet("说明").append(["this sheet is not read"])
    book.save(path)
    return path


def read(
    data: bytes | Path | io.BytesIO, mapping: ColumnMapping = MAPPING, **kwargs: Any
) -> Collected:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return collect(
        tabular.read(source, source="upload", tz="Asia/Shanghai", mapping=mapping, **kwargs)
    )


def test_an_xlsx_with_excel_dates_and_numeric_card_numbers(tmp_path: Path) -> None:
    path = workbook(
        [
            ["时间", "读者证号", "活动", "备注"],
            [datetime(2024, 3, 5, 9, 15), 20231234, "event_attendance", "读书会"],
            [],
            ["2024-03-05 10:00", "C0012345", "event_registration", None],
            [date(2024, 3, 6), "C2", "event_attendance", None],
            [45356.5, "C3", "event_attendance", None],
        ],
        tmp_path / "签到.xlsx",
    )
    out = read(path)
    assert out.rejects == []
    rows = [(r["line"], r["identifier_value"], r["type"], r["occurred_at"]) for r in out.rows]
    assert rows == [
        (2, "20231234", "event_attendance", datetime(2024, 3, 5, 1, 15, tzinfo=UTC)),
        (4, "C0012345", "event_registration", datetime(2024, 3, 5, 2, 0, tzinfo=UTC)),
        (5, "C2", "event_attendance", datetime(2024, 3, 5, 16, 0, tzinfo=UTC)),
        (6, "C3", "event_attendance", datetime(2024, 3, 5, 4, 0, tzinfo=UTC)),
    ]
    first = out.rows[0]
    assert (first["identifier_kind"], first["channel"], first["branch"]) == (
        "library_card",
        "physical",
        "总馆",
    )
    assert first["attrs"] == [("note", "读书会")]
    assert first["source"] == "upload"


def test_row_rejects_name_the_sheet_column(tmp_path: Path) -> None:
    mapping = ColumnMapping(
        columns={**MAPPING.columns, "人数": "quantity", "类别": "identifier_kind"},
        constants={"channel": "physical"},
    )
    path = workbook(
        [
            ["时间", "读者证号", "活动", "备注", "人数", "类别"],
            ["someday", "C1", "event_attendance", None, 1, "library_card"],
            ["2024-03-05 10:00", "C1", None, None, 1, "library_card"],
            ["2024-03-05 10:00", None, "event_attendance", None, 1, "library_card"],
            ["2024-03-05 10:00", "C1", "event_attendance", None, 1.5, "library_card"],
            ["2024-03-05 10:00", "C1", "event_attendance", None, 2, "badge"],
            ["2024-03-05 10:00", "C1", "event_attendance", None, 2, "library_card"],
        ],
        tmp_path / "sheet.xlsx",
    )
    out = read(path, mapping)
    assert out.problems == [
        (2, "时间", "not a date and time: 'someday'"),
        (3, "活动", "missing"),
        (4, "读者证号", "missing: whose event is this?"),
        (5, "人数", "not a whole number: '1.5'"),
        (
            6,
            "类别",
            "unknown identifier kind 'badge'; use one of " + str(sorted(IDENTIFIER_KINDS)),
        ),
    ]
    assert out.column("quantity") == [2]


def test_a_gbk_csv_with_a_time_format_and_key_columns() -> None:
    mapping = ColumnMapping(
        columns={
            "日期": "occurred_at",
            "证号": "identifier_value",
            "座位": "space",
            "流水": "attrs.serial",
        },
        constants={"identifier_kind": "campus_id", "type": "space_checkin", "channel": "kiosk"},
        time_format="%Y年%m月%d日 %H:%M",
        key_columns=("流水",),
    )
    text = "日期,证号,座位,流水\n2024年03月05日 22:10,2021012345,三楼A12,9001\n"
    out = read(text.encode("gbk"), mapping)
    assert out.rejects == []
    (row,) = out.rows
    assert row["occurred_at"] == datetime(2024, 3, 5, 14, 10, tzinfo=UTC)
    assert row["space"] == "三楼A12"
    moved = read(text.replace("三楼A12", "三楼A13").encode(), mapping).rows[0]
    assert moved["event_id"] == row["event_id"], "the key is the serial number only"
    bad = read("日期,证号,座位,流水\n2024-03-05,1,A,2\n".encode(), mapping)
    assert bad.problems == [
        (2, "日期", "not a time in the format '%Y年%m月%d日 %H:%M': '2024-03-05'")
    ]


def test_a_mapped_column_the_file_lacks_rejects_the_file() -> None:
    out = read("时间,卡号,活动\n2024-03-05,C1,x\n".encode())
    assert [(line, f) for line, f, _ in out.problems] == [(1, "读者证号"), (1, "备注")]
    assert out.rows == []


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (ColumnMapping(columns={"a": "when"}), "'when' is not a raw event field"),
        (ColumnMapping(columns={"a": "type"}), "no column is mapped to occurred_at"),
        (
            ColumnMapping(columns={"a": "occurred_at", "b": "identifier_value"}),
            "type needs a column or a constant; channel needs a column or a constant",
        ),
        (
            ColumnMapping(columns={"a": "occurred_at", "b": "type"}),
            "who: map identifier_value with an identifier_kind, or patron_key",
        ),
        (
            ColumnMapping(
                columns={"a": "occurred_at", "b": "type", "c": "identifier_value"},
                constants={"identifier_kind": "badge"},
            ),
            "identifier_kind 'badge' is not one of",
        ),
        (
            ColumnMapping(columns={"a": "occurred_at", "b": "occurred_at"}),
            "'occurred_at' is mapped from more than one column",
        ),
    ],
)
def test_unusable_mappings_are_refused_before_reading(mapping: ColumnMapping, message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        next(tabular.read(io.BytesIO(b""), source="s", tz="UTC", mapping=mapping))


def test_preview_of_an_xlsx(tmp_path: Path) -> None:
    rows = [["时间", "读者证号", "活动"]] + [
        [datetime(2024, 3, 5, 9, n), 20230000 + n, "event_attendance"] for n in range(30)
    ]
    shown = tabular.preview(workbook(rows, tmp_path / "a.xlsx"), n=5)
    assert shown.format == "xlsx"
    assert shown.sheets == ["活动签到", "说明"]
    assert shown.headers == ["时间", "读者证号", "活动"]
    assert shown.rows[0] == ["2024-03-05T09:00:00", "20230000", "event_attendance"]
    assert len(shown.rows) == 5
    assert shown.suggested == {"时间": "occurred_at", "读者证号": "identifier_value"}


def test_preview_of_a_gbk_csv_reports_the_encoding_and_delimiter() -> None:
    text = "Time;Card Number;Type;Branch\n2024-03-05 09:00;C1;loan;总馆\n"
    shown = tabular.preview(io.BytesIO(text.encode("gbk")))
    assert (shown.format, shown.encoding, shown.delimiter) == ("csv", "gb18030", ";")
    assert shown.rows == [["2024-03-05 09:00", "C1", "loan", "总馆"]]
    assert shown.suggested == {
        "Time": "occurred_at",
        "Card Number": "identifier_value",
        "Type": "type",
        "Branch": "branch",
    }
    assert any("GB18030" in p for p in shown.problems)


def test_a_chosen_sheet_and_a_missing_one(tmp_path: Path) -> None:
    path = workbook([["x"]], tmp_path / "b.xlsx")
    assert tabular.preview(path, sheet="说明").headers == ["this sheet is not read"]
    out = read(path, ColumnMapping(**{**MAPPING.__dict__, "sheet": "Sheet9"}))
    assert out.problems == [(1, "", "no sheet 'Sheet9' (the workbook has: 活动签到, 说明)")]


def test_a_damaged_workbook_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    out = read(path)
    assert out.problems[0][2].startswith("not a readable XLSX workbook")


def test_xlsx_from_an_upload_stream_and_stable_ids(tmp_path: Path) -> None:
    path = workbook(
        [["时间", "读者证号", "活动", "备注"], ["2024-03-05 10:00", "C1", "x", None]],
        tmp_path / "c.xlsx",
    )
    from_stream = read(io.BytesIO(path.read_bytes()))
    assert from_stream.column("event_id") == read(path).column("event_id")


def test_an_empty_sheet_and_a_bad_constant(tmp_path: Path) -> None:
    empty = workbook([], tmp_path / "empty.xlsx")
    assert read(empty).problems == [(1, "", "the sheet is empty")]
    with pytest.raises(ConnectorError, match="'quantity' must be a whole number"):
        ColumnMapping(**{**MAPPING.__dict__, "constants": {"quantity": "two"}}).check()
