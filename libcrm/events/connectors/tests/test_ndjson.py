"""libcrm NDJSON: the fast column-wise path, the line-by-line path, and every reject."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.connectors import ndjson
from libcrm.events.connectors.base import RAW_SCHEMA, ConnectorError, event_id
from libcrm.events.connectors.tests.collect import Collected, collect

CARD = {"kind": "library_card", "value": "C0012345"}
KEY = "pk" + "a" * 24


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identifier": CARD,
        "occurred_at": "2024-03-05T09:15:00+08:00",
        "type": "loan",
        "channel": "physical",
        "branch": "总馆",
        "item_id": "b1001",
        "attrs": {"call_number": "TP312/42", "题名": "数据挖掘"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def lines(*objects: Any) -> bytes:
    return b"".join(
        (o if isinstance(o, bytes) else json.dumps(o, ensure_ascii=False).encode()) + b"\n"
        for o in objects
    )


def read(data: bytes | Path, **kwargs: Any) -> Collected:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return collect(ndjson.read(source, source="portal", tz="Asia/Shanghai", **kwargs))


def test_a_clean_file_becomes_raw_events_in_utc() -> None:
    out = read(
        lines(event(), event(identifier=..., patron_key=KEY, occurred_at="2024-03-05 10:00"))
    )
    assert out.rejects == []
    assert all(batch.schema.equals(RAW_SCHEMA) for batch in out.batches)
    first, second = out.rows
    assert first["identifier_kind"] == "library_card"
    assert first["identifier_value"] == "C0012345"
    assert first["occurred_at"] == datetime(2024, 3, 5, 1, 15, tzinfo=UTC)
    assert first["branch"] == "总馆"
    assert first["attrs"] == [("call_number", "TP312/42"), ("题名", "数据挖掘")]
    assert first["source"] == "portal" and first["line"] == 1
    assert second["patron_key"] == KEY and second["identifier_kind"] is None
    assert second["occurred_at"] == datetime(2024, 3, 5, 2, 0, tzinfo=UTC)  # naive: Shanghai


def test_event_ids_come_from_source_id_or_the_line_text_and_repeat_on_reimport() -> None:
    data = lines(event(), event(source_id="wx-881"))
    once, again = read(data), read(data)
    assert once.column("event_id") == again.column("event_id")
    assert once.rows[1]["event_id"] == event_id("portal", "id", "wx-881")
    assert once.rows[0]["event_id"] == event_id("portal", data.split(b"\n")[0].decode())
    # the same event in another file (other line number) keeps its id
    assert (
        read(lines(event(type="return"), event())).rows[1]["event_id"] == once.rows[0]["event_id"]
    )


def test_batches_hold_at_most_batch_size_rows_and_lines_stay_right() -> None:
    out = read(lines(*(event(item_id=f"b{n}") for n in range(10))), batch_size=4)
    assert [b.num_rows for b in out.batches] == [4, 4, 2]
    assert out.column("line") == list(range(1, 11))


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (
            b'{"type": "loan", bad',
            "",
            "not valid JSON: Expecting property name enclosed in double quotes (column 18)",
        ),
        (b"[1, 2]", "", ndjson.NOT_OBJECT),
        (b'{"type": "loan", "type": "return"}', "type", ndjson.DUPLICATE),
        (b'{"quantity": NaN}', "", "not valid JSON: NaN is not JSON"),
    ],
)
def test_lines_that_are_not_one_json_object_are_rejected(
    line: bytes, field: str, reason: str
) -> None:
    out = read(lines(event(), line, event()))
    assert out.problems == [(2, field, reason)]
    assert out.column("line") == [1, 3]


REJECTS = [
    (event(shelf="A1"), "shelf", ndjson.UNKNOWN_FIELD),
    (
        event(identifier={**CARD, "scheme": "x"}),
        "identifier.scheme",
        ndjson.UNKNOWN_IDENTIFIER_PART,
    ),
    (event(identifier=...), "identifier", ndjson.NO_WHO),
    (event(patron_key=KEY), "identifier", ndjson.BOTH_WHO),
    (event(identifier={"kind": "libcard", "value": "C1"}), "identifier.kind", None),
    (event(identifier={"value": "C1"}), "identifier.kind", ndjson.MISSING),
    (event(identifier={"kind": "email", "value": " "}), "identifier.value", ndjson.MISSING),
    (event(identifier="C0012345"), "identifier", ndjson.NOT_IDENTIFIER),
    (event(identifier=..., patron_key="patron-7"), "patron_key", ndjson.BAD_PATRON_KEY),
    (event(occurred_at=...), "occurred_at", ndjson.MISSING),
    (
        event(occurred_at="next Tuesday"),
        "occurred_at",
        "not an ISO 8601 date and time: 'next Tuesday'",
    ),
    (event(type=""), "type", ndjson.MISSING),
    (event(channel=...), "channel", ndjson.MISSING),
    (event(branch=7), "branch", ndjson.NOT_TEXT),
    (event(item_id="x" * 1025), "item_id", "longer than 1 KB (1,025 bytes)"),
    (event(quantity=-1), "quantity", ndjson.NEGATIVE),
    (event(quantity=1.5), "quantity", ndjson.NOT_WHOLE),
    (event(duration_s="3600"), "duration_s", ndjson.NOT_WHOLE),
    (event(attrs=["a"]), "attrs", ndjson.NOT_ATTRS),
    (event(attrs={"nested": {"a": 1}}), "attrs.nested", ndjson.NOT_ATTR_VALUE),
    (
        event(attrs={f"k{n}": "v" for n in range(17)}),
        "attrs",
        f"{ndjson.TOO_MANY_ATTRS} (this line has 17)",
    ),
    (event(attrs={"k" * 65: "v"}), "attrs." + "k" * 64 + "…", ndjson.LONG_ATTR_KEY),
    (event(attrs={"note": "长" * 400}), "attrs.note", "longer than 1 KB (1,200 bytes)"),
    (event(attrs={"": "v"}), "attrs", ndjson.EMPTY_ATTR_KEY),
]


@pytest.mark.parametrize(("bad", "field", "reason"), REJECTS)
def test_each_reject_names_line_field_and_reason_and_spares_the_good_lines(
    bad: dict[str, Any], field: str, reason: str | None
) -> None:
    out = read(lines(event(), bad, event(item_id="b2")))
    assert [(line, f) for line, f, _ in out.problems] == [(2, field)]
    if reason is not None:
        assert out.problems[0][2] == reason
    assert out.column("line") == [1, 3]
    assert out.rejects[0].file == "<upload>"


def test_unknown_identifier_kinds_are_listed_in_the_reason() -> None:
    out = read(lines(event(identifier={"kind": "libcard", "value": "C1"})))
    assert out.problems[0][2].startswith("unknown identifier kind 'libcard'; use one of: campus_id")


def test_a_line_with_several_problems_reports_them_all_on_either_path() -> None:
    bad = event(identifier={"kind": "libcard", "value": "C1"}, occurred_at="soon", shelf=1)
    fast = read(lines(bad))  # Arrow reads it (types agree): column-wise checks
    slow = read(lines(bad, b"garbage"))  # the block fails in Arrow: line by line
    expected = {(1, "shelf"), (1, "identifier.kind"), (1, "occurred_at")}
    assert {(line, f) for line, f, _ in fast.problems} == expected
    assert {(line, f) for line, f, _ in slow.problems} == expected | {(2, "")}


def test_a_removed_member_does_not_hide_other_problems_of_its_object() -> None:
    bad = event(identifier={"kind": "libcard", "value": "C1", "scheme": 1}, type=None)
    out = read(lines(bad))
    assert {(f, r) for _, f, r in out.problems} >= {
        ("identifier.scheme", ndjson.UNKNOWN_IDENTIFIER_PART),
        ("type", ndjson.MISSING),
    }
    assert any(f == "identifier.kind" for _, f, _ in out.problems)


def test_the_fast_and_the_slow_path_give_the_same_rows() -> None:
    good = [
        event(item_id=f"b{n}", quantity=n, attrs={"n": n, "ok": True, "f": 1.5}) for n in range(5)
    ]
    clean = read(lines(*good))
    with_bad_line = read(lines(*good[:2], b"{oops", *good[2:]))

    def without_line(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "line"} for r in rows]

    assert without_line(with_bad_line.rows) == without_line(clean.rows)
    assert clean.rows[0]["attrs"] == [("n", "0"), ("ok", "true"), ("f", "1.5")]


def test_attribute_values_that_disagree_between_lines_are_read_one_by_one() -> None:
    out = read(lines(event(attrs={"v": 1}), event(attrs={"v": 1.25}), b"bad line"))
    assert [r["attrs"] for r in out.rows] == [[("v", "1")], [("v", "1.25")]]


def test_blank_lines_are_skipped_without_shifting_line_numbers() -> None:
    out = read(lines(event(), b"", b"   ", event()))
    assert out.column("line") == [1, 4]
    assert out.rejects == []


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    data = lines(*(event(item_id=f"b{n:06d}", attrs={"n": str(n)}) for n in range(20000)))
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(data))
    assert len(read(path).rows) == 20000
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    out = read(cut)
    n = len(out.rows)
    assert 0 < n < 20000
    assert out.column("line") == list(range(1, n + 1))
    assert out.problems == [(n + 1, "", f"file truncated (gzip stream ended early) after line {n}")]


def test_a_gbk_file_is_decoded_with_a_notice_and_keeps_its_event_ids() -> None:
    text = lines(event(), event(branch="分馆"))
    utf8, gbk = read(text), read(text.decode().encode("gb18030"))
    assert gbk.rows == utf8.rows
    assert gbk.notice("GB18030")


def test_an_undecodable_line_is_rejected_and_the_rest_kept() -> None:
    out = read(lines(event(), b'{"type": "\xff\xfe"}', event()))
    assert out.problems == [(2, "", "line 2: not valid UTF-8 or GB18030")]
    assert out.column("line") == [1, 3]


def test_bad_options_are_refused_before_reading() -> None:
    with pytest.raises(ConnectorError):
        next(ndjson.read(io.BytesIO(b""), source="", tz="UTC"))
    with pytest.raises(ConnectorError):
        next(ndjson.read(io.BytesIO(b""), source="s", tz="Mars/Olympus"))
    with pytest.raises(ConnectorError):
        next(ndjson.read(io.BytesIO(b""), source="s", tz="UTC", batch_size=0))


def test_an_empty_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nothing.ndjson"
    path.write_bytes(b"")
    out = read(path)
    assert [(r.file, r.line, r.field, r.reason) for r in out.rejects] == [
        ("nothing.ndjson", 1, "", "the file is empty")
    ]
