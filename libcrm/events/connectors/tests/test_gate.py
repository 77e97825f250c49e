"""Gate counters: Chinese and English headers, directions, gate → branch mapping, rejects."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.connectors import gate
from libcrm.events.connectors.base import ConnectorError
from libcrm.events.connectors.tests.collect import Collected, collect

CHINESE = """时间,门禁,方向,读者证号
2024-03-05 08:01:02,G1,进,C0012345
2024/3/5 8:05,G1,出,C0012345
2024-03-05 22:30:00,N24,进馆,C0012346
2024-03-05 08:07:00,G1,进,
"""

GATES = {"G1": "总馆", "N24": ("总馆", "24小时自习室")}


def read(data: bytes | Path, **kwargs: Any) -> Collected:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return collect(gate.read(source, source="gates", tz="Asia/Shanghai", **kwargs))


def test_a_gbk_export_with_chinese_headers() -> None:
    out = read(CHINESE.encode("gbk"), gates=GATES)
    assert out.rejects == []
    assert [
        (r["line"], r["type"], r["occurred_at"], r["branch"], r["space"]) for r in out.rows
    ] == [
        (2, "gate_in", datetime(2024, 3, 5, 0, 1, 2, tzinfo=UTC), "总馆", None),
        (3, "gate_out", datetime(2024, 3, 5, 0, 5, tzinfo=UTC), "总馆", None),
        (4, "gate_in", datetime(2024, 3, 5, 14, 30, tzinfo=UTC), "总馆", "24小时自习室"),
    ]
    assert out.rows[0]["identifier_kind"] == "library_card"
    assert out.rows[0]["attrs"] == [("gate", "G1")]
    assert out.notice("GB18030")
    assert out.notice("without a card number").count == 1


def test_english_headers_tabs_gzip_and_a_default_branch(tmp_path: Path) -> None:
    text = "Timestamp\tDirection\tCard Number\n2024-03-05T08:00:00+08:00\tIN\tC1\n"
    path = tmp_path / "door.tsv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    out = read(path, branch="East", identifier_kind="campus_id")
    (row,) = out.rows
    assert (row["type"], row["branch"], row["identifier_kind"]) == ("gate_in", "East", "campus_id")
    assert row["occurred_at"] == datetime(2024, 3, 5, 0, 0, tzinfo=UTC)


def test_unmapped_gates_keep_their_visits_and_are_named_in_a_notice() -> None:
    out = read(CHINESE.replace("N24", "G9").encode(), gates={"G1": "总馆"})
    assert out.column("branch") == ["总馆", "总馆", None]
    assert out.notice("gate 'G9' is not in the gate→branch mapping").count == 1


def test_extra_direction_words() -> None:
    text = "时间,方向,卡号\n2024-03-05 08:00,A,C1\n2024-03-05 09:00,B,C1\n"
    out = read(text.encode(), directions={"A": "gate_in", "b": "gate_out"})
    assert out.column("type") == ["gate_in", "gate_out"]
    with pytest.raises(ConnectorError):
        next(gate.read(io.BytesIO(b""), source="g", tz="UTC", directions={"A": "loan"}))


def test_row_rejects_use_the_files_own_column_names() -> None:
    text = "时间,门禁,方向,读者证号\n" + "\n".join(
        [
            "2024-03-05 25:00:00,G1,进,C1",
            "2024-03-05 08:00:00,G1,横,C1",
            ",G1,进,C1",
            "2024-03-05 08:00:00,G1,进,C1,extra",
            "2024-03-05 08:00:00,G1,出,C1",
        ]
    )
    out = read(text.encode(), gates=GATES)
    assert out.problems == [
        (2, "时间", "not a date and time: '2024-03-05 25:00:00'"),
        (3, "方向", "not a direction: '横' (use in/out or 进/出)"),
        (4, "时间", "missing"),
        (5, "", "expected 4 fields like the header, found 5"),
    ]
    assert out.column("line") == [6]


def test_a_missing_column_rejects_the_file_naming_what_it_has() -> None:
    out = read("时间,门禁\n2024-03-05 08:00,G1\n".encode())
    assert out.problems == [
        (1, "方向/direction", "no '方向/direction' column (the header has: 时间, 门禁)"),
        (1, "卡号/card", "no '卡号/card' column (the header has: 时间, 门禁)"),
    ]
    assert out.rows == []


def test_quoted_fields_may_span_lines_and_rows_keep_their_first_line() -> None:
    text = 'time,gate,direction,card\n"2024-03-05\n08:00",G1,in,C1\n2024-03-05 09:00,G1,out,C1\n'
    out = read(text.encode())
    assert out.column("line") == [2, 4]


def test_event_ids_are_stable_and_a_repeated_passage_is_one_event() -> None:
    doubled = CHINESE + "2024-03-05 08:01:02,G1,进,C0012345\n"
    out = read(doubled.encode(), gates=GATES)
    assert out.rows[0]["event_id"] == out.rows[-1]["event_id"]
    assert read(CHINESE.encode(), gates=GATES).column("event_id") == out.column("event_id")[:-1]


def test_a_truncated_gzip_export(tmp_path: Path) -> None:
    body = "".join(
        f"2024-03-05 08:{n // 60 % 60:02d}:{n % 60:02d},G1,进,C{n:06d}\n" for n in range(40000)
    )
    packed = gzip.compress(("时间,门禁,方向,卡号\n" + body).encode())
    out = read(packed[: len(packed) // 2])
    last = out.rows[-1]["line"]
    assert out.problems == [
        (last + 1, "", f"file truncated (gzip stream ended early) after line {last}")
    ]
