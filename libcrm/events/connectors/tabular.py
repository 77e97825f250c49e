"""Spreadsheets (CSV and XLSX) with a column mapping → raw events; previews for the console.

The console's upload step shows :func:`preview` (headers, first rows, detected encoding and a
suggested mapping from the header names), the librarian confirms a :class:`ColumnMapping`, and
:func:`read` imports the file with it. XLSX is read with openpyxl in read-only mode, which
streams the sheet instead of building it in memory; its line numbers are the sheet's row
numbers, as the librarian sees them in Excel. Cells Excel typed as dates are taken as local
wall-clock time in ``tz``; text times follow the rule of every connector (an offset is honoured,
no offset means ``tz``), or ``ColumnMapping.time_format`` when the sheet has its own spelling.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from libcrm.events.connectors.base import (
    DEFAULT_BATCH_ROWS,
    IDENTIFIER_KINDS,
    MAX_ATTR_KEY_CHARS,
    MAX_ATTRS,
    Chunk,
    ConnectorError,
    Findings,
    Input,
    check_batch_size,
    check_source,
)
from libcrm.events.connectors.builder import RawBatchBuilder
from libcrm.events.connectors.delimited import EMPTY_VALUES, DelimitedRows, normalise_header
from libcrm.events.connectors.reading import input_name, open_input
from libcrm.events.connectors.timestamps import check_time_zone, parse_timestamp

Format = Literal["auto", "csv", "xlsx"]
_ZIP_MAGIC = b"PK\x03\x04"
_TEXT_TARGETS = frozenset(
    {
        "identifier_kind",
        "identifier_value",
        "patron_key",
        "type",
        "channel",
        "branch",
        "space",
        "item_id",
        "subject",
    }
)
_WHOLE_TARGETS = frozenset({"quantity", "duration_s"})
TARGETS = frozenset({*_TEXT_TARGETS, *_WHOLE_TARGETS, "occurred_at"})
_EXCEL_EPOCH = datetime(1899, 12, 30)

#: Header spellings → the raw field they usually hold, for the suggested mapping.
SUGGESTIONS: Mapping[str, str] = {
    normalise_header(name): target
    for names, target in (
        (("time", "timestamp", "datetime", "date", "时间", "日期", "日期时间"), "occurred_at"),
        (("card", "card number", "cardnumber", "卡号", "读者证号", "证号"), "identifier_value"),
        (("借书证号", "一卡通号", "学号", "工号", "student id"), "identifier_value"),
        (("patron key", "patron_key"), "patron_key"),
        (("type", "event type", "类型", "行为", "事件类型"), "type"),
        (("channel", "渠道"), "channel"),
        (("branch", "library", "分馆", "馆", "馆藏地"), "branch"),
        (("space", "room", "空间", "房间", "座位区"), "space"),
        (("item", "item id", "barcode", "条码", "条码号", "题名"), "item_id"),
        (("subject", "class", "分类号", "中图分类号"), "subject"),
        (("quantity", "count", "数量", "次数"), "quantity"),
        (("duration", "duration s", "seconds", "时长", "时长秒"), "duration_s"),
    )
    for name in names
}


@dataclass(frozen=True)
class ColumnMapping:
    """How a sheet's columns become raw event fields.

    ``columns`` maps a source column (its header, as written) to a raw field — one of
    :data:`TARGETS` or ``attrs.<key>``; ``constants`` gives fields the whole file shares
    (``type``, ``channel``, ``identifier_kind``, ``branch`` …). ``key_columns`` are the columns
    that identify a row for its event id (default: every mapped column), ``time_format`` a
    ``strptime`` pattern for sheets with their own time spelling, ``sheet`` the XLSX sheet
    (default: the active one).
    """

    columns: Mapping[str, str]
    constants: Mapping[str, str] = field(default_factory=dict)
    key_columns: Sequence[str] = ()
    time_format: str | None = None
    sheet: str | None = None

    def check(self) -> None:
        """Raise :class:`ConnectorError` naming every way this mapping cannot work."""
        problems = []
        targets = list(self.columns.values())
        for column, target in self.columns.items():
            if target not in TARGETS and not _is_attr(target):
                problems.append(f"column {column!r}: {target!r} is not a raw event field")
        for target in {t for t in targets if not _is_attr(t)}:
            if targets.count(target) > 1:
                problems.append(f"{target!r} is mapped from more than one column")
        if sum(_is_attr(t) for t in targets) > MAX_ATTRS:
            problems.append(f"at most {MAX_ATTRS} attrs columns")
        for target in self.constants:
            if target not in TARGETS - {"occurred_at"}:
                problems.append(f"constant {target!r} is not a raw event field that can be fixed")
            elif target in targets:
                problems.append(f"{target!r} is both a column and a constant")
        for target in _WHOLE_TARGETS & set(self.constants):
            if not str(self.constants[target]).isdigit():
                problems.append(f"constant {target!r} must be a whole number")
        kind = self.constants.get("identifier_kind")
        if kind is not None and kind not in IDENTIFIER_KINDS:
            problems.append(f"identifier_kind {kind!r} is not one of {sorted(IDENTIFIER_KINDS)}")
        given = set(targets) | set(self.constants)
        if "occurred_at" not in targets:
            problems.append("no column is mapped to occurred_at")
        for needed in ("type", "channel"):  # the event schema requires both
            if needed not in given:
                problems.append(f"{needed} needs a column or a constant")
        if "patron_key" not in given and not {"identifier_value", "identifier_kind"} <= given:
            problems.append("who: map identifier_value with an identifier_kind, or patron_key")
        for column in self.key_columns:
            if column not in self.columns:
                problems.append(f"key column {column!r} is not a mapped column")
        if problems:
            raise ConnectorError("; ".join(problems))


def _is_attr(target: str) -> bool:
    key = target.removeprefix("attrs.")
    return target.startswith("attrs.") and 0 < len(key) <= MAX_ATTR_KEY_CHARS


@dataclass(frozen=True)
class Preview:
    """What the upload page shows before the librarian confirms a mapping."""

    format: str
    encoding: str | None
    delimiter: str | None
    sheets: list[str]
    headers: list[str]
    rows: list[list[str]]
    suggested: dict[str, str]
    problems: list[str]


def read(
    data: Input,
    /,
    *,
    source: str,
    tz: str,
    mapping: ColumnMapping,
    batch_size: int = DEFAULT_BATCH_ROWS,
    format: Format = "auto",
) -> Iterator[Chunk]:
    """Raw events from a CSV or XLSX file, through ``mapping``."""
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    mapping.check()
    findings = Findings(input_name(data))
    builder = RawBatchBuilder(source, tz, batch_size)
    with _sheet(data, format, mapping.sheet, findings) as sheet:
        if sheet is not None:
            rows = _MappedRows(mapping, sheet.headers, sheet.header_line, findings)
            if rows.ready:
                for line, cells in sheet.rows:
                    rows.add(line, cells, builder)
                    if builder.full:
                        yield findings.chunk(builder.build())
    yield findings.chunk(builder.build())
    yield findings.final()


def preview(
    data: Input, n: int = 20, *, format: Format = "auto", sheet: str | None = None
) -> Preview:
    """Headers, the first ``n`` rows as text and a suggested mapping (column → raw field)."""
    findings = Findings(input_name(data))
    with _sheet(data, format, sheet, findings) as opened:
        rows: list[list[str]] = []
        if opened is not None:
            for _, cells in opened.rows:
                rows.append([_text(cell) for cell in cells])
                if len(rows) >= n:
                    break
        headers = opened.headers if opened else []
        suggested: dict[str, str] = {}
        for header in headers:
            target = SUGGESTIONS.get(normalise_header(header))
            if target and target not in suggested.values():
                suggested[header] = target
        return Preview(
            format=opened.format if opened else "unknown",
            encoding=opened.encoding if opened else None,
            delimiter=opened.delimiter if opened else None,
            sheets=opened.sheets if opened else [],
            headers=headers,
            rows=rows,
            suggested=suggested,
            problems=[str(r) for r in findings.rejects] + [str(n) for n in findings.notices],
        )


@dataclass
class _Sheet:
    format: str
    headers: list[str]
    header_line: int
    rows: Iterator[tuple[int, Sequence[Any]]]
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)


@contextmanager
def _sheet(
    data: Input, format: Format, sheet: str | None, findings: Findings
) -> Iterator[_Sheet | None]:
    """``data`` opened as CSV or XLSX with its header found; ``None`` (after a reject) if none."""
    kind = format if format != "auto" else _sniff_format(data)
    with ExitStack() as stack:
        if kind == "xlsx":
            yield _xlsx(data, sheet, findings, stack)
            return
        rows = DelimitedRows(stack.enter_context(open_input(data)), findings)
        if not rows.read_header():
            yield None
            return
        yield _Sheet(
            "csv",
            rows.header,
            rows.header_line,
            ((row.line, row.cells) for row in rows),
            encoding=rows.encoding,
            delimiter=rows.delimiter,
        )


def _xlsx(data: Input, sheet: str | None, findings: Findings, stack: ExitStack) -> _Sheet | None:
    from openpyxl import load_workbook  # heavy; only spreadsheets need it

    source: str | os.PathLike[str] | IO[bytes] = data
    if not isinstance(data, str | os.PathLike) and not data.seekable():
        spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=64 << 20))  # noqa: SIM115
        shutil.copyfileobj(data, spool)
        spool.seek(0)
        source = spool
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged zip
        findings.reject(1, "", f"not a readable XLSX workbook: {exc}")
        return None
    stack.callback(workbook.close)
    if sheet is not None and sheet not in workbook.sheetnames:
        names = ", ".join(workbook.sheetnames)
        findings.reject(1, "", f"no sheet {sheet!r} (the workbook has: {names})")
        return None
    worksheet = workbook[sheet] if sheet else workbook.active
    rows = enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1)
    for line, cells in rows:
        if any(_text(cell) for cell in cells):
            headers = [_text(cell) for cell in cells]
            width = len(headers)
            body = (
                (number, list(values[:width]) + [None] * (width - len(values)))
                for number, values in rows
                if any(_text(cell) for cell in values)
            )
            return _Sheet(
                "xlsx", headers, line, body, encoding="utf-8", sheets=list(workbook.sheetnames)
            )
    findings.reject(1, "", "the sheet is empty")
    return None


def _sniff_format(data: Input) -> str:
    if isinstance(data, str | os.PathLike):
        suffix = Path(data).suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx"
        with open(data, "rb") as handle:
            return "xlsx" if handle.read(4) == _ZIP_MAGIC else "csv"
    if isinstance(data, io.BufferedIOBase | io.RawIOBase) and data.seekable():
        position = data.tell()
        head = data.read(4)
        data.seek(position)
        return "xlsx" if head == _ZIP_MAGIC else "csv"
    return "xlsx" if input_name(data).lower().endswith((".xlsx", ".xlsm")) else "csv"


def _text(value: Any) -> str:
    """A cell as text: card numbers Excel stored as numbers lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value).strip()
    return "" if text in EMPTY_VALUES else text


class _MappedRows:
    """Applies a :class:`ColumnMapping` to rows, with row-level rejects."""

    def __init__(
        self, mapping: ColumnMapping, headers: list[str], header_line: int, findings: Findings
    ) -> None:
        self.mapping = mapping
        self.findings = findings
        position = {h: i for i, h in reversed(list(enumerate(headers)))}
        loose = {normalise_header(h): i for i, h in reversed(list(enumerate(headers)))}
        self.positions: dict[str, int] = {}
        for column in mapping.columns:
            found = position.get(column, loose.get(normalise_header(column)))
            if found is None:
                findings.reject(
                    header_line,
                    column,
                    f"the mapping names column {column!r}, which the file does not have "
                    f"(it has: {', '.join(headers)})",
                )
            else:
                self.positions[column] = found
        self.ready = len(self.positions) == len(mapping.columns)
        self.keys = list(mapping.key_columns) or list(mapping.columns)

    def add(self, line: int, cells: Sequence[Any], builder: RawBatchBuilder) -> None:
        values: dict[str, Any] = {}
        attrs: dict[str, str | None] = {}
        bad = False
        for column, target in self.mapping.columns.items():
            cell = cells[self.positions[column]]
            if target.startswith("attrs."):
                attrs[target.removeprefix("attrs.")] = _text(cell) or None
                continue
            value, reason = self._convert(target, cell)
            if reason:
                self.findings.reject(line, column, reason)
                bad = True
            values[target] = value
        for target, constant in self.mapping.constants.items():
            values[target] = int(constant) if target in _WHOLE_TARGETS else constant
        for target in ("occurred_at", "type", "channel"):
            if values.get(target) in (None, "") and not bad:
                column = next((c for c, t in self.mapping.columns.items() if t == target), target)
                self.findings.reject(line, column, "missing")
                bad = True
        who = values.get("patron_key") or values.get("identifier_value")
        if not who and not bad:
            column = next(
                (
                    c
                    for c, t in self.mapping.columns.items()
                    if t in ("identifier_value", "patron_key")
                ),
                "identifier_value",
            )
            self.findings.reject(line, column, "missing: whose event is this?")
            bad = True
        if bad:
            return
        builder.add(
            key=[_text(cells[self.positions[c]]) for c in self.keys],
            line=line,
            attrs=attrs,
            **values,
        )

    def _convert(self, target: str, cell: Any) -> tuple[Any, str | None]:
        if target == "occurred_at":
            return self._time(cell)
        text = _text(cell)
        if target in _WHOLE_TARGETS:
            if not text:
                return None, None
            try:
                number = float(text)
            except ValueError:
                number = -1.0
            if number < 0 or not number.is_integer():
                return None, f"not a whole number: {text!r}"
            return int(number), None
        if target == "identifier_kind" and text and text not in IDENTIFIER_KINDS:
            return None, f"unknown identifier kind {text!r}; use one of {sorted(IDENTIFIER_KINDS)}"
        return text or None, None

    def _time(self, cell: Any) -> tuple[datetime | None, str | None]:
        if isinstance(cell, datetime):
            return cell, None
        if isinstance(cell, date):
            return datetime(cell.year, cell.month, cell.day), None
        if isinstance(cell, int | float) and not isinstance(cell, bool) and 1 <= cell < 2958466:
            return _EXCEL_EPOCH + timedelta(days=float(cell)), None  # an unformatted date cell
        text = _text(cell)
        if not text:
            return None, None
        if self.mapping.time_format:
            try:
                return datetime.strptime(text, self.mapping.time_format), None
            except ValueError:
                return None, f"not a time in the format {self.mapping.time_format!r}: {text!r}"
        value = parse_timestamp(text)
        return (value, None) if value else (None, f"not a date and time: {text!r}")
