"""The world's source files, in the formats real library systems export and libcrm's connectors
read (:mod:`libcrm.events.connectors`): a gate-counter CSV with its gate→branch mapping, a Koha
``old_issues`` circulation CSV, an EZproxy log, libcrm NDJSON for the channels without a native
format, and the MARC catalogue. Every file is in the library's local time (Asia/Shanghai).

Lines are assembled column-wise and written straight from Arrow buffers. With ``bad_lines``
each file ends with a few deliberately broken lines (see :data:`BAD_LINES`), so that the
reject reports have something to show; the manifest lists them. Pure: no Django.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.world import campus
from libcrm.world.activity import col
from libcrm.world.catalogue import write_marc
from libcrm.world.eresources import COUNTED, log_lines
from libcrm.world.online import EMAIL, OPENID, PHONE
from libcrm.world.population import BRANCH_CODES, Population
from libcrm.world.rng import Draws
from libcrm.world.world import TIME_ZONE, Behaviour, People

GATE_FILE, KOHA_FILE, EZPROXY_FILE, MARC_FILE = (
    "gates.csv", "koha_old_issues.csv", "ezproxy.log", "catalogue.mrc",
)  # fmt: skip
GATE_MAPPING_FILE = "gates.json"
NDJSON_SOURCES = ("website", "mobile-app", "wechat-oa", "service-desk", "programmes")
KOHA_COLUMNS = (
    "issue_id", "borrowernumber", "cardnumber", "itemnumber", "date_due", "branchcode",
    "returndate", "lastreneweddate", "renewals_count", "auto_renew", "timestamp", "issuedate",
    "onsite_checkout",
)  # fmt: skip
#: The deliberately broken lines appended to each file: (file, text, what the reject says).
BAD_LINES: dict[str, tuple[tuple[str, str], ...]] = {
    GATE_FILE: (
        ("2025-13-45 25:61:00,ZG-E1,进,{card}", "time: not a date and time"),
        ("{time},ZG-E1,侧门,{card}", "direction: not a direction"),
    ),
    KOHA_FILE: (("9999999,1,{card},100001,,main,,,0,0,,yesterday,0", "issuedate: not a date"),),
    EZPROXY_FILE: (("GET /favicon.ico", "not an NCSA/EZproxy log line"),),
    "wechat-oa.ndjson": (
        ('{"identifier": {"kind": "wechat_openid", "value": "oMdL7', "not valid JSON"),
        (
            '{"identifier":{"kind":"library_card","value":"{card}"},"occurred_at":"{iso}",'
            '"type":"teleport","channel":"wechat"}',
            "type: not an event type (pipeline)",
        ),
    ),
}


@dataclass
class SourceFile:
    """One written file and how to ingest it (connector format, source name, options)."""

    name: str
    format: str
    source: str
    options: dict[str, Any]
    lines: int
    expected_events: int
    bad_lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WrittenWorld:
    folder: Path
    files: list[SourceFile]
    catalogue_records: int
    catalogue_broken: int

    @property
    def expected_events(self) -> int:
        return sum(f.expected_events for f in self.files)

    def manifest(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            **extra,
            "time_zone": TIME_ZONE,
            "files": [asdict(f) for f in self.files],
            "catalogue": {
                "file": MARC_FILE,
                "records": self.catalogue_records,
                "broken_records": self.catalogue_broken,
            },
            "expected_events": self.expected_events,
        }


class Clock:
    """Seconds since the world's first midnight → the text each format writes (built from
    Arrow's own timestamp-to-text cast, which is many times faster than ``strftime``)."""

    MONTHS = pa.array(["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                       "Oct", "Nov", "Dec"])  # fmt: skip

    def __init__(self, first_day: date) -> None:
        start = datetime.combine(first_day, datetime.min.time())
        self.base = int((start - datetime(1970, 1, 1)).total_seconds())

    def local(self, t: pa.Array) -> pa.Array:
        """2025-03-05 09:15:02 (Koha, gate counters: local time without a zone)."""
        return pc.cast(pc.cast(pc.add(t, self.base), pa.timestamp("s")), pa.string())

    def iso(self, t: pa.Array) -> pa.Array:
        """2025-03-05T09:15:02+08:00 (NDJSON)."""
        text = pc.utf8_replace_slice(self.local(t), start=10, stop=11, replacement="T")
        return _join(text, "+08:00")

    def ezproxy(self, t: pa.Array) -> pa.Array:
        """05/Mar/2025:09:15:02 +0800."""
        text = self.local(t)
        month = pc.take(self.MONTHS, pc.cast(pc.utf8_slice_codeunits(text, 5, 7), pa.int64()))
        return _join(
            pc.utf8_slice_codeunits(text, 8, 10), "/", month, "/",
            pc.utf8_slice_codeunits(text, 0, 4), ":", pc.utf8_slice_codeunits(text, 11, 19),
            " +0800",
        )  # fmt: skip


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _optional(name: str, values: pa.Array, quoted: bool = True) -> pa.Array:
    """``,"name":"value"`` where the value is set, else nothing."""
    text = values if quoted else pc.cast(values, pa.string())
    q = '"' if quoted else ""
    return pc.fill_null(_join(f',"{name}":{q}', text, q), "")


def write_lines(path: Path, lines: pa.Array, header: str | None = None) -> int:
    """Write each string of ``lines`` and a newline, straight from the Arrow buffer."""
    text = pc.binary_join_element_wise(lines, "\n", "")
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    wide = pa.types.is_large_string(text.type)
    with path.open("wb") as out:
        if header is not None:
            out.write(header.encode() + b"\n")
        if len(text):
            offsets = pa.Array.from_buffers(
                pa.int64() if wide else pa.int32(),
                len(text) + 1,
                [None, text.buffers()[1]],
                offset=text.offset,
            )
            first, last = offsets[0].as_py(), offsets[-1].as_py()
            out.write(text.buffers()[2][first:last])
    return len(text)


def _sorted(table: pa.Table, *keys: str) -> pa.Table:
    return table.take(pc.sort_indices(table, [(k, "ascending") for k in keys]))


def _unique_lines(lines: pa.Array) -> pa.Array:
    """Lines in order, without exact repeats (a repeated line is one event to the store)."""
    unique = pc.unique(lines)
    if len(unique) == len(lines):
        return lines
    first = pc.index_in(unique, value_set=lines)  # where each distinct line first appears
    return pc.take(lines, pc.take(first, pc.sort_indices(first)))


class SourceWriter:
    def __init__(self, people: People, behaviour: Behaviour, folder: Path) -> None:
        self.config = people.config
        self.behaviour = behaviour
        self.pop: Population = behaviour.population
        self.folder = folder
        self.clock = Clock(self.config.first_day)
        self.end = self.config.end_seconds
        self.bad = self.config.bad_lines
        self.iso_sample = self.clock.iso(pa.array([0], pa.int64()))[0].as_py()
        # Broken lines name a real card: only what is broken about them should be refused.
        cards = self.pop.record_card
        self.some_card = cards[0].as_py() if len(cards) else "L100000001"

    def _bad(self, name: str, lines_before: int) -> tuple[list[str], list[dict[str, Any]]]:
        if not self.bad:
            return [], []
        texts, notes = [], []
        for offset, (text, reason) in enumerate(BAD_LINES.get(name, ())):
            line = (
                text.replace("{iso}", self.iso_sample)
                .replace("{time}", self.iso_sample[:19].replace("T", " "))
                .replace("{card}", self.some_card)
            )
            texts.append(line)
            notes.append({"line": lines_before + offset + 1, "reason": reason})
        return texts, notes

    def write_all(self) -> WrittenWorld:
        self.folder.mkdir(parents=True, exist_ok=True)
        files = [self.gates(), self.koha(), self.ezproxy()]
        files += [self.ndjson(source) for source in NDJSON_SOURCES]
        records = write_marc(
            self.behaviour.catalogue, self.folder / MARC_FILE, broken_record=self.bad
        )
        return WrittenWorld(self.folder, files, records, int(self.bad))

    # --- gate counter ---------------------------------------------------------------------
    def gates(self) -> SourceFile:
        visits = self.behaviour.visits
        gate_ids = pa.array([g.gate for g in campus.GATES])
        card = pc.take(self.pop.record_card, col(visits, "record"))
        exits = pc.and_(col(visits, "exit_recorded"), pc.less(col(visits, "t_out"), self.end))
        passages = []
        for time, gate, direction in (("t_in", "gate_in", "进"), ("t_out", "gate_out", "出")):
            passages.append(
                pa.table(
                    {
                        "t": col(visits, time),
                        "gate": pc.take(gate_ids, col(visits, gate)),
                        "direction": pa.array([direction] * visits.num_rows),
                        "card": card,
                    }
                )
            )
        rows = pa.concat_tables([passages[0], passages[1].filter(exits)])
        rows = _sorted(rows, "t")
        # No two passages are alike: one visit per person and day, each record its own card.
        lines = _join(self.clock.local(col(rows, "t")), ",", col(rows, "gate"), ",",
                      col(rows, "direction"), ",", col(rows, "card"))  # fmt: skip
        bad, notes = self._bad(GATE_FILE, len(lines) + 1)
        written = write_lines(
            self.folder / GATE_FILE,
            pa.concat_arrays([lines, pa.array(bad, pa.string())]),
            "时间,闸机,方向,卡号",
        )
        mapping = {g.gate: [g.branch, g.space] for g in campus.GATES}
        (self.folder / GATE_MAPPING_FILE).write_text(
            json.dumps(mapping, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return SourceFile(
            GATE_FILE, "gate", "gate-counter",
            {"identifier_kind": "library_card", "gates": mapping},
            written + 1, len(lines), notes,
        )  # fmt: skip

    # --- Koha -----------------------------------------------------------------------------
    def koha(self) -> SourceFile:
        loans = self.behaviour.loans.filter(pc.invert(self.behaviour.held_out))
        loans = _sorted(loans, "t", "loan")
        record = col(loans, "record")
        items = pa.array([i.itemnumber for i in self.behaviour.catalogue.items], pa.int64())
        clock = self.clock.local
        returned = col(loans, "t_return")
        renewed = col(loans, "t_renewal")
        last_change = pc.coalesce(returned, renewed, col(loans, "t"))
        cells = [
            pc.cast(pc.add(col(loans, "loan"), 1), pa.string()),
            pc.cast(pc.add(record, 1), pa.string()),  # Koha's borrowernumber
            pc.take(self.pop.record_card, record),
            pc.cast(pc.take(items, col(loans, "item")), pa.string()),
            clock(col(loans, "t_due")),
            pc.take(pa.array(BRANCH_CODES), col(loans, "branch")),
            pc.fill_null(clock(returned), ""),
            pc.fill_null(clock(renewed), ""),
            pc.cast(col(loans, "renewals"), pa.string()),
            "0",
            clock(last_change),
            clock(col(loans, "t")),
            "0",
        ]
        parts: list[pa.Array | str] = []
        for i, cell in enumerate(cells):
            parts += ([","] if i else []) + [cell]
        lines = _join(*parts)
        bad, notes = self._bad(KOHA_FILE, len(lines) + 1)
        written = write_lines(
            self.folder / KOHA_FILE,
            pa.concat_arrays([lines, pa.array(bad, pa.string())]),
            ",".join(KOHA_COLUMNS),
        )
        events = loans.num_rows + len(returned) - returned.null_count
        events += len(renewed) - renewed.null_count
        return SourceFile(KOHA_FILE, "koha", "koha", {"patron_identifier": "cardnumber"},
                          written + 1, events, notes)  # fmt: skip

    # --- EZproxy --------------------------------------------------------------------------
    def ezproxy(self) -> SourceFile:
        lines = self.behaviour.ezproxy
        draws = Draws(self.config.seed, "ezproxy-anonymous")
        card = pc.take(self.pop.record_card, col(lines, "record"))
        anonymous = draws.bernoulli(0.004, lines.num_rows)  # the odd request before sign-in
        table = pa.concat_tables(
            [
                lines.append_column("user", card),
                lines.filter(anonymous).append_column(
                    "user", pa.array(["-"] * int(pc.sum(anonymous).as_py() or 0), pa.string())
                ),
            ]
        )
        text = log_lines(table, col(table, "user"), self.clock.ezproxy(col(table, "t")))
        # Sorted by time once the text exists: taking one column is cheaper than the table.
        order = pc.sort_indices(
            pa.table({"t": col(table, "t"), "session": col(table, "session")}),
            [("t", "ascending"), ("session", "ascending")],
        )
        text = pc.take(text, order)
        counted = pc.and_(
            pc.is_in(col(table, "kind"), pa.array(COUNTED, pa.int64())),
            pc.not_equal(col(table, "user"), "-"),
        )
        bad, notes = self._bad(EZPROXY_FILE, len(text))
        written = write_lines(
            self.folder / EZPROXY_FILE, pa.concat_arrays([text, pa.array(bad, pa.string())])
        )
        return SourceFile(
            EZPROXY_FILE, "ezproxy", "ezproxy", {"identifier_kind": "library_card"},
            written, int(pc.sum(counted).as_py() or 0), notes,
        )  # fmt: skip

    # --- NDJSON ---------------------------------------------------------------------------
    def ndjson(self, source: str) -> SourceFile:
        events = self.behaviour.events
        rows = _sorted(events.filter(pc.equal(col(events, "source"), source)), "t")
        record, who = col(rows, "record"), col(rows, "who")
        value = pc.take(self.pop.record_card, record)
        for kind, column in ((OPENID, self.pop.record_openid), (EMAIL, self.pop.record_email),
                             (PHONE, self.pop.record_phone)):  # fmt: skip
            value = pc.if_else(pc.equal(who, kind), pc.take(column, record), value)
        if value.null_count:
            raise AssertionError(f"{source}: {value.null_count} events without an identifier")
        lines = _join(
            '{"identifier":{"kind":"', who, '","value":"', value, '"},"occurred_at":"',
            self.clock.iso(col(rows, "t")), '","type":"', col(rows, "type"), '","channel":"',
            col(rows, "channel"), '"',
            _optional("branch", col(rows, "branch")), _optional("space", col(rows, "space")),
            _optional("item_id", col(rows, "item_id")), _optional("subject", col(rows, "subject")),
            _optional("quantity", col(rows, "quantity"), quoted=False),
            _optional("duration_s", col(rows, "duration_s"), quoted=False),
            pc.fill_null(_join(',"attrs":', col(rows, "attrs")), ""),
            "}",
        )  # fmt: skip
        lines = _unique_lines(lines)
        name = f"{source}.ndjson"
        bad, notes = self._bad(name, len(lines))
        written = write_lines(
            self.folder / name, pa.concat_arrays([lines, pa.array(bad, pa.string())])
        )
        return SourceFile(name, "ndjson", source, {}, written, len(lines), notes)
