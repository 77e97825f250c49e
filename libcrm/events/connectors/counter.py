"""COUNTER Release 5 and 5.1 reports (COUNTER_SUSHI JSON) → aggregate usage rows.

Title (TR, TR_J1…) and database (DR, DR_D1…) reports count use per title or database per
month, with no patron in them, so they become rows of :data:`USAGE_SCHEMA` — kept apart from
per-patron events. Release 5 items carry ``Performance: [{Period, Instance: [{Metric_Type,
Count}]}]`` and ``Item_ID: [{Type, Value}]``; release 5.1 items carry ``Attribute_Performance:
[{Data_Type, …, Performance: {Metric_Type: {"YYYY-MM": count}}}]`` and ``Item_ID: {Type:
Value}``. Both are read.

The ``Report_Header`` is checked first (release, report type, SUSHI exceptions, which become
notices — or a reject when the server sent only an exception). An item with any malformed part
is rejected whole, each problem named by its JSON path, so a report never half-counts a title.
``usage_id`` is deterministic: re-importing a report gives the same ids, and since vendors
revise counts, the store should let a newer row replace an older one with the same id.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa

from libcrm.events.connectors.base import (
    DEFAULT_BATCH_ROWS,
    Chunk,
    Findings,
    Input,
    check_batch_size,
    check_source,
    event_id,
)
from libcrm.events.connectors.jsonstream import JsonRecord, JsonRecords
from libcrm.events.connectors.reading import input_name, open_input
from libcrm.events.connectors.timestamps import check_time_zone

RELEASES = frozenset({"5", "5.1"})
METRIC_TYPES = frozenset(
    {
        "Total_Item_Investigations",
        "Unique_Item_Investigations",
        "Unique_Title_Investigations",
        "Total_Item_Requests",
        "Unique_Item_Requests",
        "Unique_Title_Requests",
        "No_License",
        "Limit_Exceeded",
        "Searches_Regular",
        "Searches_Automated",
        "Searches_Federated",
        "Searches_Platform",
    }
)
_ATTRIBUTES = ("Data_Type", "Section_Type", "Access_Type", "Access_Method", "YOP")
_IDENTIFIERS = ("DOI", "ISBN", "Print_ISSN", "Online_ISSN", "Proprietary", "URI")

USAGE_SCHEMA = pa.schema(
    [
        pa.field("usage_id", pa.string(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("release", pa.string(), nullable=False),
        pa.field("institution", pa.string()),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("database", pa.string()),
        pa.field("publisher", pa.string()),
        pa.field("data_type", pa.string()),
        pa.field("section_type", pa.string()),
        pa.field("access_type", pa.string()),
        pa.field("access_method", pa.string()),
        pa.field("yop", pa.string()),
        pa.field("doi", pa.string()),
        pa.field("isbn", pa.string()),
        pa.field("print_issn", pa.string()),
        pa.field("online_issn", pa.string()),
        pa.field("proprietary_id", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("metric_type", pa.string(), nullable=False),
        pa.field("month", pa.date32(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ],
    metadata={"libcrm.schema": "usage", "libcrm.version": "1"},
)
"""One count: a title's or database's metric in one month, as the vendor reported it."""

# What a count is of — everything but the count itself, so a vendor's revised figure for the
# same title, metric and month gets the same usage_id and replaces the old one.
_KEY_FIELDS = tuple(
    n for n in USAGE_SCHEMA.names if n not in ("usage_id", "count", "source", "line")
)

_COLUMN_OF = {
    "DOI": "doi",
    "ISBN": "isbn",
    "Print_ISSN": "print_issn",
    "Online_ISSN": "online_issn",
    "Proprietary": "proprietary_id",
    "URI": "uri",
}


def read(
    data: Input, /, *, source: str, tz: str, batch_size: int = DEFAULT_BATCH_ROWS
) -> Iterator[Chunk]:
    """Usage rows from a COUNTER R5/R5.1 TR or DR report (``tz`` is unused: months are
    calendar months as the vendor counted them)."""
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    findings = Findings(input_name(data))
    rows = _UsageRows(source, batch_size)
    with open_input(data) as opened:
        records = JsonRecords(opened, findings, container_keys=("Report_Items",))
        report: _Report | None = None
        waiting: list[JsonRecord] = []  # items before the header (unusual): held until it comes
        refused = False
        for record in records:
            if not record.path.startswith("$.Report_Items["):
                _not_an_item(record, findings)
                continue
            if report is None and not refused:
                header = records.header.get("Report_Header")
                if header is None:
                    waiting.append(record)
                    continue
                report = _Report.read(header, findings)
                refused = report is None
            if report is not None:
                for item in [*waiting, record]:
                    report.item(item, rows, findings)
                waiting.clear()
                if len(rows) >= batch_size:
                    yield findings.chunk(rows.build())
        if report is None and not refused:
            header = records.header.get("Report_Header")
            if header is not None:
                report = _Report.read(header, findings)
                for item in waiting:
                    if report is not None:
                        report.item(item, rows, findings)
            elif records.documents and not findings.rejects:
                findings.reject(1, "Report_Header", "missing: this is not a COUNTER report")
    yield findings.chunk(rows.build())
    yield findings.final()


def _not_an_item(record: JsonRecord, findings: Findings) -> None:
    value = record.value
    if isinstance(value, dict) and "Code" in value and "Message" in value:
        findings.reject(
            record.line,
            record.path,
            f"the SUSHI server sent exception {value['Code']}: {value['Message']} — no report",
        )
    elif not (isinstance(value, dict) and "Report_Header" in value):
        findings.reject(record.line, record.path, "not a COUNTER report (no Report_Items)")


class _UsageRows:
    def __init__(self, source: str, batch_size: int) -> None:
        self.source = source
        self.batch_size = batch_size
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: dict[str, Any]) -> None:
        key = [str(row.get(name) or "") for name in _KEY_FIELDS]
        row["usage_id"] = event_id(self.source, "counter", *key)
        row["source"] = self.source
        self.rows.append(row)

    def build(self) -> pa.RecordBatch | None:
        if not self.rows:
            return None
        batch = pa.RecordBatch.from_pylist(self.rows, schema=USAGE_SCHEMA)
        self.rows = []
        return batch


class _Report:
    """What every item of one report shares, from its header."""

    def __init__(self, report_id: str, release: str, institution: str | None) -> None:
        self.report_id = report_id
        self.release = release
        self.institution = institution
        self.kind = "title" if report_id.startswith("TR") else "database"

    @classmethod
    def read(cls, header: Any, findings: Findings) -> _Report | None:
        """The report's header, or ``None`` after rejecting the file for it."""
        where = "$.Report_Header"
        if not isinstance(header, dict):
            findings.reject(1, where, "must be an object")
            return None
        release = str(header.get("Release", "")).strip()
        report_id = str(header.get("Report_ID", "")).strip()
        exceptions = header.get("Exceptions") or []
        for exc in exceptions if isinstance(exceptions, list) else [exceptions]:
            if isinstance(exc, dict):
                findings.notice(
                    f"SUSHI exception {exc.get('Code')} ({exc.get('Severity', 'notice')}): "
                    f"{exc.get('Message')}"
                )
        if release not in RELEASES:
            findings.reject(
                1, f"{where}.Release", f"release {release!r} is not read (5 and 5.1 are)"
            )
            return None
        if not report_id.startswith(("TR", "DR")):
            findings.reject(
                1,
                f"{where}.Report_ID",
                f"{report_id!r}: only title (TR…) and database (DR…) reports are read",
            )
            return None
        institution = header.get("Institution_Name")
        return cls(report_id, release, str(institution) if institution else None)

    def item(self, record: JsonRecord, rows: _UsageRows, findings: Findings) -> None:
        """Add the item's counts, or reject it whole with every problem found."""
        problems: list[tuple[str, str]] = []
        item, path = record.value, record.path
        if not isinstance(item, dict):
            findings.reject(record.line, path, "a report item must be an object")
            return
        name_field = "Title" if self.kind == "title" else "Database"
        common: dict[str, Any] = {
            "report_id": self.report_id,
            "release": self.release,
            "institution": self.institution,
            "platform": _text(item, "Platform", path, problems, required=True),
            self.kind: _text(item, name_field, path, problems, required=True),
            "publisher": _text(item, "Publisher", path, problems),
            "line": record.line,
        }
        common.update(_identifiers(item.get("Item_ID"), f"{path}.Item_ID", problems))
        counts = (
            list(_counts_r5(item, path, problems))
            if self.release == "5"
            else list(_counts_r51(item, path, problems))
        )
        for field, reason in problems:
            findings.reject(record.line, field, reason)
        if problems:
            return
        for attributes, metric, month, count in counts:
            rows.add(
                {**common, **attributes, "metric_type": metric, "month": month, "count": count}
            )


def _text(
    obj: dict[str, Any],
    name: str,
    path: str,
    problems: list[tuple[str, str]],
    *,
    required: bool = False,
) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            problems.append((f"{path}.{name}", "missing"))
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        problems.append((f"{path}.{name}", "must be text"))
        return None
    return str(value).strip()


def _identifiers(value: Any, path: str, problems: list[tuple[str, str]]) -> dict[str, str | None]:
    """R5 ``[{Type, Value}]`` or R5.1 ``{Type: Value}`` → the identifier columns."""
    found: dict[str, str | None] = {}
    if value is None:
        return found
    if isinstance(value, dict):  # R5.1; Proprietary may be a list there
        pairs = [(k, v[0] if isinstance(v, list) and v else v) for k, v in value.items()]
    elif isinstance(value, list):
        pairs = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or "Type" not in entry or "Value" not in entry:
                problems.append((f"{path}[{i}]", "must be {Type, Value}"))
                continue
            pairs.append((entry["Type"], entry["Value"]))
    else:
        problems.append((path, "must be a list of {Type, Value} or an object"))
        return found
    for kind, text in pairs:
        column = _COLUMN_OF.get(str(kind))
        if column and isinstance(text, str) and text.strip():
            found.setdefault(column, text.strip())
    return found


def _month(begin: Any, end: Any) -> date | None:
    """The calendar month a period covers, or ``None`` when it is not exactly one month."""
    try:
        first, last = date.fromisoformat(str(begin)), date.fromisoformat(str(end))
    except ValueError:
        return None
    days = calendar.monthrange(first.year, first.month)[1]
    if first.day != 1 or (last.year, last.month, last.day) != (first.year, first.month, days):
        return None
    return first


def _count(value: Any, path: str, problems: list[tuple[str, str]]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append((path, f"a count is a whole number of at least 0, not {value!r}"))
        return None
    return value


def _metric(value: Any, path: str, problems: list[tuple[str, str]]) -> str | None:
    if value not in METRIC_TYPES:
        problems.append((path, f"unknown Metric_Type {value!r}"))
        return None
    return str(value)


Count = tuple[dict[str, str | None], str, date, int]


def _counts_r5(item: dict[str, Any], path: str, problems: list[tuple[str, str]]) -> Iterator[Count]:
    attributes = {name.lower(): _text(item, name, path, problems) for name in _ATTRIBUTES}
    performance = item.get("Performance")
    if not isinstance(performance, list):
        problems.append((f"{path}.Performance", "missing or not a list"))
        return
    for i, entry in enumerate(performance):
        here = f"{path}.Performance[{i}]"
        period = entry.get("Period") if isinstance(entry, dict) else None
        if not isinstance(period, dict):
            problems.append((f"{here}.Period", "missing"))
            continue
        month = _month(period.get("Begin_Date"), period.get("End_Date"))
        if month is None:
            problems.append((f"{here}.Period", "not one calendar month (Begin_Date…End_Date)"))
        instances = entry.get("Instance")
        if not isinstance(instances, list):
            problems.append((f"{here}.Instance", "missing or not a list"))
            continue
        for j, instance in enumerate(instances):
            at = f"{here}.Instance[{j}]"
            if not isinstance(instance, dict):
                problems.append((at, "must be {Metric_Type, Count}"))
                continue
            metric = _metric(instance.get("Metric_Type"), f"{at}.Metric_Type", problems)
            count = _count(instance.get("Count"), f"{at}.Count", problems)
            if metric is not None and count is not None and month is not None:
                yield attributes, metric, month, count


def _counts_r51(
    item: dict[str, Any], path: str, problems: list[tuple[str, str]]
) -> Iterator[Count]:
    groups = item.get("Attribute_Performance")
    if not isinstance(groups, list):
        problems.append((f"{path}.Attribute_Performance", "missing or not a list"))
        return
    for i, group in enumerate(groups):
        here = f"{path}.Attribute_Performance[{i}]"
        if not isinstance(group, dict) or not isinstance(group.get("Performance"), dict):
            problems.append((f"{here}.Performance", "missing or not an object"))
            continue
        attributes = {name.lower(): _text(group, name, here, problems) for name in _ATTRIBUTES}
        for metric_name, months in group["Performance"].items():
            at = f"{here}.Performance.{metric_name}"
            metric = _metric(metric_name, at, problems)
            if not isinstance(months, dict):
                problems.append((at, 'must be {"YYYY-MM": count}'))
                continue
            for key, value in months.items():
                try:
                    month = date.fromisoformat(f"{key}-01")
                except ValueError:
                    problems.append((f"{at}.{key}", "not a month like 2024-03"))
                    continue
                count = _count(value, f"{at}.{key}", problems)
                if metric is not None and count is not None:
                    yield attributes, metric, month, count
