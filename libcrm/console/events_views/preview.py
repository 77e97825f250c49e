"""The preview step of an import: the first rows of the file as they would be imported, each
with the problems that would reject it.

The rows come from the real connector (:func:`libcrm.events.connectors.tabular.read`) with the
chosen mapping, and the accepted ones are then put through the event validation the pipeline
applies (:func:`libcrm.events.validation.validate`), so a row shown as fine here is refused at
import only for who it is about (an identifier that cannot be resolved), never for its shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from libcrm.catalog.selectors import item_titles
from libcrm.console.events_views.labels import branch_names, channel_label, type_label
from libcrm.events.connectors import tabular
from libcrm.events.connectors.base import ConnectorError, Notice, Reject
from libcrm.events.connectors.tabular import ColumnMapping
from libcrm.events.validation import validate
from libcrm.patrons.identifiers import mask

PREVIEW_ROWS = 20
# Stands in for the patron key while validating: who a row is about is resolved at import.
_PLACEHOLDER_KEY = "pk" + "a" * 24


@dataclass
class PreviewRow:
    line: int
    occurred_at: datetime | None = None
    who: str = ""
    who_kind: str = ""
    type: str = ""
    type_label: str = ""
    channel: str = ""
    channel_label: str = ""
    branch: str = ""
    branch_label: str = ""
    space: str = ""
    item_id: str = ""
    item_title: str = ""
    subject: str = ""
    duration_s: int | None = None
    quantity: int | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class MappedPreview:
    rows: list[PreviewRow]
    file_problems: list[str]  # problems not tied to a row (a missing column, an empty sheet)
    notices: list[str]

    @property
    def bad_rows(self) -> int:
        return sum(not r.ok for r in self.rows)


def _row(raw: dict[str, Any]) -> PreviewRow:
    kind = raw.get("identifier_kind") or ""
    who = raw.get("patron_key") or ""
    if not who and raw.get("identifier_value"):
        who = mask(kind, str(raw["identifier_value"]))
    return PreviewRow(
        line=raw["line"],
        occurred_at=raw["occurred_at"],
        who=who,
        who_kind=kind,
        type=raw["type"] or "",
        type_label=type_label(raw["type"] or ""),
        channel=raw.get("channel") or "",
        channel_label=channel_label(raw.get("channel") or ""),
        branch=raw.get("branch") or "",
        space=raw.get("space") or "",
        item_id=raw.get("item_id") or "",
        subject=raw.get("subject") or "",
        duration_s=raw.get("duration_s"),
        quantity=raw.get("quantity"),
    )


def _validated(rows: list[PreviewRow], raws: list[dict[str, Any]]) -> None:
    """Put the event schema's checks (known type and channel, not in the future, lengths) on
    the rows the connector accepted."""
    events = [
        {
            "event_id": raw["event_id"],
            "patron_key": _PLACEHOLDER_KEY,
            "occurred_at": raw["occurred_at"],
            "type": raw["type"],
            "channel": raw.get("channel"),
            "branch": raw.get("branch"),
            "space": raw.get("space"),
            "item_id": raw.get("item_id"),
            "subject": raw.get("subject"),
            "quantity": raw.get("quantity"),
            "duration_s": raw.get("duration_s"),
            "source": raw["source"],
            "attrs": dict(raw["attrs"]) if raw.get("attrs") else None,
        }
        for raw in raws
    ]
    if not events:
        return
    result = validate(events, now=timezone.now(), max_rejects=None)
    for reject in result.rejects:
        shown = f" ({reject.value})" if reject.value is not None else ""
        rows[reject.row].problems.append((reject.field, reject.reason + shown))


def mapped_preview(
    path: Path, *, source: str, tz: str, mapping: ColumnMapping, n: int = PREVIEW_ROWS
) -> MappedPreview:
    """The first ``n`` data rows of the file through ``mapping``, with their problems."""
    accepted: dict[int, dict[str, Any]] = {}
    rejects: list[Reject] = []
    notices: list[Notice] = []
    try:
        chunks = tabular.read(path, source=source, tz=tz, mapping=mapping, batch_size=n)
    except ConnectorError as exc:
        return MappedPreview([], [str(exc)], [])
    try:
        for chunk in chunks:
            if chunk.batch is not None:
                for raw in chunk.batch.to_pylist():
                    accepted[raw["line"]] = raw
            rejects.extend(chunk.rejects)
            notices.extend(chunk.notices)
            if len(accepted) + len({r.line for r in rejects}) >= n:
                break
    finally:
        chunks.close()
    # With nothing accepted and every problem on one line, the file itself is the problem (a
    # column the mapping names is missing, the sheet is empty): nothing was read past it.
    header_problems = rejects if not accepted and len({r.line for r in rejects}) == 1 else []
    by_line: dict[int, PreviewRow] = {}
    raws = [accepted[line] for line in sorted(accepted)]
    for raw in raws:
        by_line[raw["line"]] = _row(raw)
    _validated([by_line[raw["line"]] for raw in raws], raws)
    for reject in rejects:
        if reject in header_problems:
            continue
        row = by_line.setdefault(reject.line, PreviewRow(line=reject.line))
        row.problems.append((reject.field, reject.reason))
    rows = [by_line[line] for line in sorted(by_line)][:n]
    names = branch_names({r.branch for r in rows if r.branch})
    titles = item_titles(r.item_id for r in rows if r.item_id)
    for row in rows:
        row.branch_label = names.get(row.branch, row.branch)
        row.item_title = titles.get(row.item_id, "")
    return MappedPreview(
        rows=rows,
        file_problems=[str(r) for r in header_problems],
        notices=[str(n) for n in notices],
    )
