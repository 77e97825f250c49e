"""Gate (turnstile, door) counter exports → ``gate_in`` / ``gate_out`` visits.

A CSV (or tab-separated, GBK, gzip…) with a time, a direction and a card number per passage,
and usually the gate or door. Chinese exports name the columns 时间, 门禁/闸机, 方向/进出 and
卡号/读者证号; :data:`HEADER_ALIASES` lists every spelling understood. Directions are
``in``/``out`` in English or Chinese (进/出, 入/出, 进馆/出馆); ``directions`` adds others.

The branch (and optionally the space, e.g. a 24-hour study room) comes from the ``gates``
mapping, gate id → branch or (branch, space); an unmapped gate's visits keep no branch and are
listed in a notice. A passage without a card number (a visitor counted by the beam, not
identified) is skipped with a notice. Times without an offset are local time in ``tz``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from libcrm.events.connectors.base import (
    DEFAULT_BATCH_ROWS,
    GATE_IN,
    GATE_OUT,
    PHYSICAL,
    Chunk,
    ConnectorError,
    Findings,
    Input,
    check_batch_size,
    check_identifier_kind,
    check_source,
)
from libcrm.events.connectors.builder import RawBatchBuilder
from libcrm.events.connectors.delimited import DelimitedRows
from libcrm.events.connectors.reading import input_name, open_input
from libcrm.events.connectors.timestamps import check_time_zone, parse_timestamp

#: Header spelling (compared without case, spaces, dashes or underscores) → column.
HEADER_ALIASES: Mapping[str, str] = {
    **dict.fromkeys(
        ("timestamp", "time", "datetime", "date time", "pass time", "event time"), "time"
    ),
    **dict.fromkeys(("时间", "通行时间", "进出时间", "刷卡时间", "日期时间", "记录时间"), "time"),
    **dict.fromkeys(("gate", "gate id", "door", "door id", "reader", "device"), "gate"),
    **dict.fromkeys(("门禁", "闸机", "门禁编号", "闸机号", "通道", "设备", "设备号"), "gate"),
    **dict.fromkeys(("direction", "in out", "inout", "dir"), "direction"),
    **dict.fromkeys(("方向", "进出", "进出方向", "出入", "出入方向"), "direction"),
    **dict.fromkeys(("card", "card number", "cardnumber", "card no", "barcode"), "card"),
    **dict.fromkeys(("patron", "patron barcode", "reader id"), "card"),
    **dict.fromkeys(("卡号", "读者证号", "证号", "借书证号", "读者卡号", "一卡通号"), "card"),
    **dict.fromkeys(("branch", "library", "分馆", "馆"), "branch"),
}
DIRECTIONS: Mapping[str, str] = {
    **dict.fromkeys(("in", "i", "entry", "enter", "进", "入", "进馆", "入馆", "进入"), GATE_IN),
    **dict.fromkeys(("out", "o", "exit", "leave", "出", "出馆", "离开", "离馆"), GATE_OUT),
}
_SPELLED = {"time": "时间/time", "direction": "方向/direction", "card": "卡号/card"}
ANONYMOUS = "passages without a card number (not identified) were not imported"


def read(
    data: Input,
    /,
    *,
    source: str,
    tz: str,
    batch_size: int = DEFAULT_BATCH_ROWS,
    gates: Mapping[str, str | tuple[str, str | None]] | None = None,
    branch: str | None = None,
    identifier_kind: str = "library_card",
    directions: Mapping[str, str] | None = None,
) -> Iterator[Chunk]:
    """Visits from a gate-counter CSV. ``branch`` is used for every row when the export has
    no gate column (a single-door branch)."""
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    check_identifier_kind(identifier_kind)
    places = {str(k).strip(): _place(v) for k, v in (gates or {}).items()}
    words = {**DIRECTIONS, **{k.strip().lower(): v for k, v in (directions or {}).items()}}
    if not set(words.values()) <= {GATE_IN, GATE_OUT}:
        raise ConnectorError(f"directions must map to {GATE_IN!r} or {GATE_OUT!r}")
    findings = Findings(input_name(data))
    builder = RawBatchBuilder(source, tz, batch_size)
    with open_input(data) as opened:
        rows = DelimitedRows(opened, findings, aliases=HEADER_ALIASES)
        if rows.read_header() and not rows.missing(("time", "direction", "card"), _SPELLED):
            col = rows.columns
            names = {name: rows.header[i] for name, i in col.items()}
            at_gate, at_branch = col.get("gate"), col.get("branch")
            for row in rows:
                cells = row.cells
                card = cells[col["card"]]
                if not card:
                    findings.count(ANONYMOUS)
                    continue
                raw_time, raw_direction = cells[col["time"]], cells[col["direction"]]
                occurred = parse_timestamp(raw_time)
                event_type = words.get(raw_direction.lower())
                if occurred is None:
                    reason = f"not a date and time: {raw_time!r}" if raw_time else "missing"
                    findings.reject(row.line, names["time"], reason)
                if event_type is None:
                    findings.reject(
                        row.line,
                        names["direction"],
                        f"not a direction: {raw_direction!r} (use in/out or 进/出)",
                    )
                if occurred is None or event_type is None:
                    continue
                gate = cells[at_gate] if at_gate is not None else ""
                place = places.get(gate)
                if place is None:
                    place = (cells[at_branch] if at_branch is not None else branch or None), None
                    if gate and places:
                        findings.count(f"gate {gate!r} is not in the gate→branch mapping")
                builder.add(
                    key=("gate", occurred.isoformat(), gate, event_type, card),
                    occurred_at=occurred,
                    type=event_type,
                    line=row.line,
                    identifier_kind=identifier_kind,
                    identifier_value=card,
                    channel=PHYSICAL,
                    branch=place[0],
                    space=place[1],
                    attrs={"gate": gate},
                )
                if builder.full:
                    yield findings.chunk(builder.build())
    yield findings.chunk(builder.build())
    yield findings.final()


def _place(value: str | tuple[str, str | None]) -> tuple[str | None, str | None]:
    if isinstance(value, str):
        return value, None
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    raise ConnectorError("gates maps a gate id to a branch or a (branch, space) pair")
