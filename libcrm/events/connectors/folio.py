"""FOLIO circulation loans (mod-circulation's loan schema) → loan, return and renewal events.

Accepts ``{"loans": [...], "totalRecords": N}`` as ``/circulation/loans`` answers, a single
loan, an array of loans, or one loan per line — including loan-history exports, where the same
loan appears once per action: event ids make the repeats collapse into one event each.

Per loan: a ``loan`` at ``loanDate``; a ``return`` at ``returnDate`` when set; a ``renewal`` when
the last ``action`` was a renewal, at ``metadata.updatedDate`` (the renewal's own time — a loan
record keeps no other), keyed by ``renewalCount`` so every renewal seen in a history export is
its own event. Who: ``borrower.barcode`` (mod-circulation embeds the borrower) as a
``library_card``, else kind ``other`` with ``<patron_prefix>:<userId>``. Where: the check-out
(or check-in) service point's branch, through ``service_points`` (id → branch code); a service
point missing from it leaves the branch empty — a UUID is no branch code — keeps its id in
``attrs["service_point"]`` and is named in a notice.
Times are ISO 8601 with an offset; one without is read in ``tz``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

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
from libcrm.events.connectors.jsonstream import JsonRecords, RecordFields
from libcrm.events.connectors.reading import input_name, open_input
from libcrm.events.connectors.timestamps import check_time_zone

RENEWAL_ACTIONS = frozenset({"renewed", "renewedThroughOverride"})
NO_RENEWAL_TIME = "renewals without metadata.updatedDate (no time to give them) were not imported"
NO_PATRON = "missing: a loan needs userId or borrower.barcode"


def read(
    data: Input,
    /,
    *,
    source: str,
    tz: str,
    batch_size: int = DEFAULT_BATCH_ROWS,
    patron_prefix: str = "folio",
    service_points: Mapping[str, str] | None = None,
) -> Iterator[Chunk]:
    """Circulation events from FOLIO loan JSON (plain or gzip)."""
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    if not patron_prefix or ":" in patron_prefix:
        raise ConnectorError("patron_prefix must be a short name without ':' such as 'folio'")
    places = dict(service_points or {})
    findings = Findings(input_name(data))
    builder = RawBatchBuilder(source, tz, batch_size)
    with open_input(data) as opened:
        for record in JsonRecords(opened, findings, container_keys=("loans",)):
            if not isinstance(record.value, dict):
                findings.reject(record.line, record.path, "a loan must be a JSON object")
                continue
            _loan(RecordFields(record), patron_prefix, places, findings, builder)
            if builder.full:
                yield findings.chunk(builder.build())
    yield findings.chunk(builder.build())
    yield findings.final()


def _loan(
    fields: RecordFields,
    prefix: str,
    places: Mapping[str, str],
    findings: Findings,
    builder: RawBatchBuilder,
) -> None:
    line = fields.record.line
    loan_id = fields.text("id", required=True)
    loaned = fields.time("loanDate", required=True)
    returned = fields.time("returnDate")
    updated = fields.time("metadata.updatedDate")
    renewals = fields.whole("renewalCount")
    action = fields.text("action")
    barcode = fields.text("borrower.barcode")
    user_id = fields.text("userId")
    item_id = fields.text("itemId")
    out_point = fields.text("checkoutServicePointId")
    in_point = fields.text("checkinServicePointId") or out_point
    attrs = {
        "instance_id": fields.text("item.instanceId"),
        "due": fields.text("dueDate"),
        "patron_group": fields.text("patronGroupIdAtCheckout"),
    }
    if not barcode and not user_id:
        fields.problem("userId", NO_PATRON)
    for field, reason in fields.problems:
        findings.reject(line, field, reason)
    if fields.problems or loaned is None:
        return
    kind, value = ("library_card", barcode) if barcode else ("other", f"{prefix}:{user_id}")
    common: dict[str, Any] = {
        "line": line,
        "identifier_kind": kind,
        "identifier_value": value,
        "channel": PHYSICAL,
        "item_id": item_id,
    }
    out_branch = _branch(out_point, places, findings)
    builder.add(
        key=("loan", loan_id, LOAN),
        occurred_at=loaned,
        type=LOAN,
        branch=out_branch,
        attrs={**attrs, "service_point": None if out_branch else out_point},
        **common,
    )
    if action in RENEWAL_ACTIONS:
        if updated is None:
            findings.count(NO_RENEWAL_TIME)
        else:
            builder.add(
                key=("loan", loan_id, RENEWAL, str(renewals or 0)),
                occurred_at=updated,
                type=RENEWAL,
                branch=out_branch,
                quantity=1,
                attrs={"renewal_count": str(renewals) if renewals is not None else None},
                **common,
            )
    if returned is not None:
        in_branch = _branch(in_point, places, findings) if in_point != out_point else out_branch
        builder.add(
            key=("loan", loan_id, RETURN),
            occurred_at=returned,
            type=RETURN,
            branch=in_branch,
            attrs={"service_point": None if in_branch else in_point},
            **common,
        )


def _branch(point: str, places: Mapping[str, str], findings: Findings) -> str | None:
    if not point:
        return None
    branch = places.get(point)
    if branch is None:
        findings.count(f"service point {point!r} is not in the service_points mapping")
    return branch
