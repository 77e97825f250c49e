"""Koha circulation → loan, return, renewal and in-library-use events.

Three shapes, told apart by the file itself:

* CSV of the ``statistics`` table (``datetime, branch, type, other, itemnumber, itemtype,
  location, borrowernumber, ccode``): one event per row — ``issue`` and ``onsite_checkout`` →
  ``loan``, ``return`` → ``return``, ``renew`` → ``renewal``. Koha's other types
  (``localuse``, ``recall``, ``item_found``, ``item_lost``, ``writeoff``, ``payment``) are
  skipped with a notice — the event schema has no type for in-library use of a physical item
  yet; ``statistics_types`` maps any of them once it has — and any other type is rejected.
* CSV of ``issues``/``old_issues`` (``issue_id?, borrowernumber, itemnumber, date_due,
  branchcode, returndate, lastreneweddate, renewals, auto_renew, timestamp, issuedate,
  onsite_checkout``): a ``loan`` at ``issuedate``, a ``return`` at ``returndate`` when set and
  a ``renewal`` at ``lastreneweddate`` when set (``quantity`` = ``renewals``, the only count
  Koha keeps).
* JSON from the REST API ``/api/v1/checkouts`` (an array, one object, or one per line): the
  same three events from ``checkout_date``, ``checkin_date`` and ``last_renewed_date``.

Who: Koha knows patrons by ``borrowernumber``. Unless the export carries a card number (a
``cardnumber`` column, or ``patron.cardnumber`` when the API call embeds the patron), the
identifier is kind ``other`` with value ``<patron_prefix>:<borrowernumber>`` (``koha:123``) —
give each Koha instance its own prefix. ``patron_identifier="borrowernumber"`` ignores card
numbers; ``"cardnumber"`` requires them. Rows without a borrower (Koha anonymises statistics)
or with the ``anonymous_patron`` borrowernumber are skipped with a notice.

When: Koha's database and CSV exports hold local time without a zone — read in ``tz``; the API
writes RFC 3339 times with an offset, taken as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from libcrm.events.connectors.base import (
    DEFAULT_BATCH_ROWS,
    LOAN,
    PHYSICAL,
    RENEWAL,
    RETURN,
    Chunk,
    ConnectorError,
    Findings,
    Input,
    check_batch_size,
    check_source,
)
from libcrm.events.connectors.builder import RawBatchBuilder
from libcrm.events.connectors.delimited import DelimitedRows
from libcrm.events.connectors.jsonstream import JsonRecords, RecordFields
from libcrm.events.connectors.reading import input_name, open_input
from libcrm.events.connectors.timestamps import check_time_zone, parse_timestamp
from libcrm.events.schema import EVENT_TYPES

PatronIdentifier = Literal["auto", "cardnumber", "borrowernumber"]

STATISTICS_TYPES: Mapping[str, str] = {
    "issue": LOAN,
    "onsite_checkout": LOAN,
    "return": RETURN,
    "renew": RENEWAL,
}
#: Koha's other statistics types (Koha::Statistic): skipped unless ``statistics_types`` maps them.
OTHER_KOHA_TYPES = frozenset(
    {"localuse", "recall", "item_found", "item_lost", "writeoff", "payment"}
)

_STATISTICS_COLUMNS = {
    name: name
    for name in (
        "datetime",
        "branch",
        "type",
        "other",
        "itemnumber",
        "itemtype",
        "location",
        "borrowernumber",
        "ccode",
        "cardnumber",
    )
}
_ISSUES_COLUMNS = {
    name: name
    for name in (
        "issue_id",
        "borrowernumber",
        "cardnumber",
        "itemnumber",
        "date_due",
        "branchcode",
        "returndate",
        "lastreneweddate",
        "renewals",
        "renewals_count",
        "auto_renew",
        "issuedate",
        "onsite_checkout",
    )
}

ANONYMOUS = "rows without a patron (anonymised in Koha) were not imported"
NOT_A_TIME = "not a date and time: {value!r}"
NOT_A_COUNT = "not a whole number: {value!r}"


def read(
    data: Input,
    /,
    *,
    source: str,
    tz: str,
    batch_size: int = DEFAULT_BATCH_ROWS,
    patron_prefix: str = "koha",
    patron_identifier: PatronIdentifier = "auto",
    anonymous_patron: str | None = None,
    statistics_types: Mapping[str, str] | None = None,
) -> Iterator[Chunk]:
    """Circulation events from a Koha CSV export or REST API checkout JSON.

    ``statistics_types`` adds or overrides entries of :data:`STATISTICS_TYPES` (Koha type →
    event type), e.g. ``{"localuse": "…"}``.
    """
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    if patron_identifier not in ("auto", "cardnumber", "borrowernumber"):
        raise ConnectorError("patron_identifier must be 'auto', 'cardnumber' or 'borrowernumber'")
    if not patron_prefix or ":" in patron_prefix:
        raise ConnectorError("patron_prefix must be a short name without ':' such as 'koha'")
    unknown = set((statistics_types or {}).values()) - EVENT_TYPES
    if unknown:
        raise ConnectorError(f"statistics_types maps to unknown event types: {sorted(unknown)}")
    findings = Findings(input_name(data))
    who = _Patrons(patron_prefix, patron_identifier, anonymous_patron, findings)
    types = {**STATISTICS_TYPES, **(statistics_types or {})}
    builder = RawBatchBuilder(source, tz, batch_size)
    with open_input(data) as opened:
        if opened.peek().lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
            rows = _checkouts(JsonRecords(opened, findings, container_keys=()), who, builder)
        else:
            rows = _csv(
                DelimitedRows(opened, findings, aliases=_csv_aliases()), who, builder, types
            )
        for _ in rows:
            if builder.full:
                yield findings.chunk(builder.build())
    yield findings.chunk(builder.build())
    yield findings.final()


def _csv_aliases() -> dict[str, str]:
    return {**_STATISTICS_COLUMNS, **_ISSUES_COLUMNS}


class _Patrons:
    """Turns Koha's patron columns into a libcrm identifier (see the module docstring)."""

    def __init__(
        self, prefix: str, mode: PatronIdentifier, anonymous: str | None, findings: Findings
    ) -> None:
        self.prefix = prefix
        self.mode = mode
        self.anonymous = anonymous
        self.findings = findings

    def identify(
        self, line: int, borrowernumber: str, cardnumber: str, fields: tuple[str, str]
    ) -> tuple[str, str] | None:
        """``(kind, value)``, or ``None`` after a reject or a counted skip."""
        if self.mode != "borrowernumber" and cardnumber:
            return "library_card", cardnumber
        if self.mode == "cardnumber":
            self.findings.reject(line, fields[1], "missing (patron_identifier='cardnumber')")
            return None
        if not borrowernumber or borrowernumber == self.anonymous:
            self.findings.count(ANONYMOUS)
            return None
        if not borrowernumber.isdigit():
            self.findings.reject(
                line, fields[0], f"a borrowernumber is a whole number, not {borrowernumber!r}"
            )
            return None
        return "other", f"{self.prefix}:{borrowernumber}"


def _csv(
    rows: DelimitedRows, who: _Patrons, builder: RawBatchBuilder, types: Mapping[str, str]
) -> Iterator[None]:
    if not rows.read_header():
        return
    if "datetime" in rows.columns and "type" in rows.columns:
        yield from _statistics(rows, who, builder, types)
    elif "issuedate" in rows.columns:
        yield from _issues(rows, who, builder)
    else:
        rows.findings.reject(
            rows.header_line,
            "",
            "neither a statistics export (datetime, type, …) nor an issues/old_issues export "
            f"(issuedate, …); the header has: {', '.join(rows.header)}",
        )


class _Cells:
    """A row's cells by canonical column name ("" for a column the file does not have)."""

    __slots__ = ("cells", "columns")

    def __init__(self, cells: list[str], columns: Mapping[str, int]) -> None:
        self.cells = cells
        self.columns = columns

    def __call__(self, name: str) -> str:
        position = self.columns.get(name)
        return self.cells[position] if position is not None else ""


def _time(findings: Findings, line: int, field: str, text: str) -> datetime | None:
    value = parse_timestamp(text)
    if value is None:
        findings.reject(line, field, NOT_A_TIME.format(value=text) if text else "missing")
    return value


def _statistics(
    rows: DelimitedRows, who: _Patrons, builder: RawBatchBuilder, types: Mapping[str, str]
) -> Iterator[None]:
    columns = rows.columns
    if "cardnumber" not in columns and rows.missing(("borrowernumber",), {}):
        return
    findings = rows.findings
    for row in rows:
        get = _Cells(row.cells, columns)
        kind = get("type")
        event_type = types.get(kind)
        if event_type is None:
            if not kind:
                findings.reject(row.line, "type", "missing")
            elif kind in OTHER_KOHA_TYPES:
                findings.count(
                    f"statistics rows of type {kind!r} (no event type for it) were skipped"
                )
            else:
                known = ", ".join(sorted({*types, *OTHER_KOHA_TYPES}))
                findings.reject(
                    row.line, "type", f"unknown Koha statistics type {kind!r} ({known})"
                )
            continue
        occurred = _time(findings, row.line, "datetime", get("datetime"))
        identifier = who.identify(
            row.line, get("borrowernumber"), get("cardnumber"), ("borrowernumber", "cardnumber")
        )
        if occurred is None or identifier is None:
            continue
        builder.add(
            key=(
                "statistics",
                get("datetime"),
                get("branch"),
                kind,
                get("itemnumber"),
                get("borrowernumber") or get("cardnumber"),
                get("other"),
            ),
            occurred_at=occurred,
            type=event_type,
            line=row.line,
            identifier_kind=identifier[0],
            identifier_value=identifier[1],
            channel=PHYSICAL,
            branch=get("branch"),
            item_id=get("itemnumber"),
            attrs={
                "itemtype": get("itemtype"),
                "location": get("location"),
                "ccode": get("ccode"),
                "onsite": "true" if kind == "onsite_checkout" else None,
            },
        )
        yield None


def _whole(findings: Findings, line: int, field: str, text: str) -> int | Literal[False] | None:
    """The count in ``text`` (``3`` or a spreadsheet's ``3.0``); ``None`` when empty, ``False``
    after a reject."""
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        try:
            decimal = float(text)
        except ValueError:
            decimal = -1.0
        number = int(decimal) if decimal.is_integer() else -1
    if number < 0:
        findings.reject(line, field, NOT_A_COUNT.format(value=text))
        return False
    return number


def _issues(rows: DelimitedRows, who: _Patrons, builder: RawBatchBuilder) -> Iterator[None]:
    columns = rows.columns
    findings = rows.findings
    renewals_column = "renewals" if "renewals" in columns else "renewals_count"
    for row in rows:
        get = _Cells(row.cells, columns)
        issued = _time(findings, row.line, "issuedate", get("issuedate"))
        returned = get("returndate") and _time(findings, row.line, "returndate", get("returndate"))
        renewed = get("lastreneweddate") and _time(
            findings, row.line, "lastreneweddate", get("lastreneweddate")
        )
        renewals = _whole(findings, row.line, renewals_column, get(renewals_column))
        identifier = who.identify(
            row.line, get("borrowernumber"), get("cardnumber"), ("borrowernumber", "cardnumber")
        )
        if None in (issued, returned, renewed) or renewals is False or identifier is None:
            continue
        loan_key = get("issue_id") or "|".join(
            (get("borrowernumber") or get("cardnumber"), get("itemnumber"), get("issuedate"))
        )
        yield from _loan_events(
            builder,
            loan_key=("issue", loan_key),
            line=row.line,
            identifier=identifier,
            item=get("itemnumber"),
            branch=get("branchcode"),
            issued=issued,  # type: ignore[arg-type]
            returned=returned or None,
            renewed=renewed or None,
            renewals=renewals,
            attrs={
                "due": get("date_due"),
                "onsite": "true" if get("onsite_checkout") in ("1", "true") else None,
                "auto_renew": "true" if get("auto_renew") in ("1", "true") else None,
            },
        )


def _loan_events(
    builder: RawBatchBuilder,
    *,
    loan_key: tuple[str, ...],
    line: int,
    identifier: tuple[str, str],
    item: str,
    branch: str,
    issued: datetime,
    returned: datetime | None,
    renewed: datetime | None,
    renewals: int | None,
    attrs: dict[str, str | None],
    return_branch: str | None = None,
) -> Iterator[None]:
    """The loan, and its return and last renewal when they happened."""
    common: dict[str, Any] = {
        "line": line,
        "identifier_kind": identifier[0],
        "identifier_value": identifier[1],
        "channel": PHYSICAL,
        "item_id": item,
    }
    builder.add(
        key=(*loan_key, LOAN), occurred_at=issued, type=LOAN, branch=branch, attrs=attrs, **common
    )
    yield None
    if renewed is not None:
        builder.add(
            key=(*loan_key, RENEWAL),
            occurred_at=renewed,
            type=RENEWAL,
            branch=branch,
            quantity=renewals,
            **common,
        )
        yield None
    if returned is not None:
        builder.add(
            key=(*loan_key, RETURN),
            occurred_at=returned,
            type=RETURN,
            branch=return_branch or branch,
            **common,
        )
        yield None


def _checkouts(records: JsonRecords, who: _Patrons, builder: RawBatchBuilder) -> Iterator[None]:
    findings = records.findings
    for record in records:
        if not isinstance(record.value, dict):
            findings.reject(record.line, record.path, "a checkout must be a JSON object")
            continue
        fields = RecordFields(record)
        checkout_id = fields.text("checkout_id", required=True)
        issued = fields.time("checkout_date", required=True)
        returned = fields.time("checkin_date")
        renewed = fields.time("last_renewed_date")
        renewals = fields.whole("renewals_count" if "renewals_count" in fields.obj else "renewals")
        patron_id = fields.text("patron_id")
        cardnumber = fields.text("patron.cardnumber")
        item, branch, due = (
            fields.text("item_id"),
            fields.text("library_id"),
            fields.text("due_date"),
        )
        for field, reason in fields.problems:
            findings.reject(record.line, field, reason)
        if fields.problems:
            continue
        identifier = who.identify(
            record.line,
            patron_id,
            cardnumber,
            (fields.where("patron_id"), fields.where("patron.cardnumber")),
        )
        if identifier is None or issued is None:
            continue
        yield from _loan_events(
            builder,
            loan_key=("checkout", checkout_id),
            line=record.line,
            identifier=identifier,
            item=item,
            branch=branch,
            issued=issued,
            returned=returned,
            renewed=renewed,
            renewals=renewals,
            attrs={
                "due": due,
                "onsite": "true" if fields.flag("onsite_checkout") else None,
                "auto_renew": "true" if fields.flag("auto_renew") else None,
            },
        )
