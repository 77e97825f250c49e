"""Opening files: gzip, truncation, encodings, over-long lines; times; event ids; attrs."""

from __future__ import annotations

import gzip
import io
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from libcrm.events.connectors.base import (
    ConnectorError,
    Findings,
    attrs_from_columns,
    check_source,
    event_id,
    event_ids_of_lines,
    source_prefix,
)
from libcrm.events.connectors.reading import LineSource, TextDecoder, open_input
from libcrm.events.connectors.timestamps import (
    UnknownTimeZone,
    check_time_zone,
    iso_strings_to_utc,
    parse_timestamp,
    to_utc_array,
)


def read_lines(data: bytes | Path, **kwargs: int) -> tuple[list[tuple[int, str | None]], Findings]:
    findings = Findings("f.txt")
    out: list[tuple[int, str | None]] = []
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with open_input(source) as opened:
        decoder = TextDecoder(findings)
        for block in LineSource(
            opened, findings, block_lines=kwargs.pop("block_lines", 3), **kwargs
        ):
            texts = decoder.texts(block)
            out.extend((block.first + i, t) for i, t in enumerate(texts))
    return out, findings


LINES = "第一行 one\nline two\r\nline three\nlast line without newline"


def test_plain_utf8_lines_are_numbered_and_crlf_is_stripped() -> None:
    lines, findings = read_lines(LINES.encode())
    assert lines == [
        (1, "第一行 one"),
        (2, "line two"),
        (3, "line three"),
        (4, "last line without newline"),
    ]
    assert not findings.rejects and not findings.notices


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    lines, _ = read_lines(b"\xef\xbb\xbf" + LINES.encode())
    assert lines[0] == (1, "第一行 one")


def test_gzip_is_recognised_by_its_magic_bytes_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"  # no .gz suffix
    path.write_bytes(gzip.compress(LINES.encode()))
    lines, findings = read_lines(path)
    assert [t for _, t in lines] == [t for _, t in read_lines(LINES.encode())[0]]
    assert not findings.rejects


def test_a_truncated_gzip_keeps_the_complete_lines_and_says_where_it_stopped() -> None:
    text = "".join(f"line {n:05d} 中文\n" for n in range(1, 20001))
    packed = gzip.compress(text.encode())
    lines, findings = read_lines(packed[: len(packed) // 2], block_lines=1000)
    assert lines, "the lines before the cut are kept"
    last = lines[-1][0]
    assert lines == [(n, f"line {n:05d} 中文") for n in range(1, last + 1)]  # nothing cut-off
    assert findings.truncated
    assert [(r.line, r.field, r.reason) for r in findings.rejects] == [
        (last + 1, "", f"file truncated (gzip stream ended early) after line {last}")
    ]


def test_a_gzip_with_a_bad_checksum_is_reported_as_damaged() -> None:
    packed = bytearray(gzip.compress(b"a\nb\n"))
    packed[-8] ^= 0xFF  # the CRC32 in the trailer
    _lines, findings = read_lines(bytes(packed))
    assert findings.rejects[0].reason.startswith("file damaged (gzip: CRC check failed")


def test_a_gbk_file_is_read_as_gb18030_with_a_notice() -> None:
    text = "读者证号,姓名\nC001,张三\nC002,李四\n"
    lines, findings = read_lines(text.encode("gbk"))
    assert [t for _, t in lines] == text.splitlines()
    assert not findings.rejects
    assert "read as GB18030" in findings.notices[0].message


def test_an_ascii_start_does_not_hide_a_gbk_file() -> None:
    text = "card,name\n" + "C000,ascii\n" * 10 + "C001,张三\n"
    lines, findings = read_lines(text.encode("gbk"), block_lines=4)
    assert lines[-1] == (12, "C001,张三")
    assert not findings.rejects


def test_undecodable_lines_are_rejected_and_the_rest_kept() -> None:
    data = "ok 中文\n".encode() + b"bad \xff\xfe\x80 bytes\n" + "还好\n".encode()
    lines, findings = read_lines(data)
    assert lines == [(1, "ok 中文"), (2, None), (3, "还好")]
    assert [(r.line, r.field, r.reason) for r in findings.rejects] == [
        (2, "", "line 2: not valid UTF-8 or GB18030")
    ]


def test_a_gbk_line_in_a_utf8_file_is_decoded_and_counted() -> None:
    data = "第一行\n".encode() + "第二行\n".encode("gbk") + "第三行\n".encode()
    lines, findings = read_lines(data)
    assert [t for _, t in lines] == ["第一行", "第二行", "第三行"]
    final = findings.final()
    assert final.notices[0].message == "lines that were not UTF-8 were read as GB18030"
    assert final.notices[0].count == 1


def test_utf16_excel_unicode_text_is_converted() -> None:
    text = "卡号\t时间\nC001\t2024-03-05\n"
    lines, findings = read_lines(text.encode("utf-16"))
    assert [t for _, t in lines] == ["卡号\t时间", "C001\t2024-03-05"]
    assert "UTF-16" in findings.notices[0].message


def test_an_over_long_line_is_rejected_without_being_held() -> None:
    data = b"short\n" + b"x" * 5000 + b"\nafter\n"
    lines, findings = read_lines(data, chunk_bytes=1024, max_line_bytes=2048)
    assert lines == [(1, "short"), (2, ""), (3, "after")]
    assert [(r.line, r.reason) for r in findings.rejects] == [
        (2, "line 2: longer than 2 KiB; skipped")
    ]


def test_an_unterminated_over_long_last_line_is_rejected() -> None:
    lines, findings = read_lines(b"short\n" + b"y" * 5000, chunk_bytes=1024, max_line_bytes=2048)
    assert lines == [(1, "short"), (2, "")]
    assert findings.rejects[0].line == 2


def test_open_input_leaves_a_callers_stream_open() -> None:
    stream = io.BytesIO(b"a\n")
    with open_input(stream):
        pass
    assert not stream.closed


# --- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-03-05T09:15:00+08:00",
            datetime(2024, 3, 5, 9, 15, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("2024-03-05T01:15:00Z", datetime(2024, 3, 5, 1, 15, tzinfo=UTC)),
        ("2024-03-05 09:15:00", datetime(2024, 3, 5, 9, 15)),
        ("2024-03-05", datetime(2024, 3, 5)),
        ("2024/3/5 9:05:03", datetime(2024, 3, 5, 9, 5, 3)),
        ("2024.03.05 09:05", datetime(2024, 3, 5, 9, 5)),
        ("2024年3月5日 9时5分", datetime(2024, 3, 5, 9, 5)),
        (
            "2024-03-05 09:15:00.123456789+0800",
            datetime(2024, 3, 5, 9, 15, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("yesterday", None),
        ("2024-02-30", None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_local_times_become_utc_in_the_library_time_zone() -> None:
    values = [datetime(2024, 3, 5, 9, 15), datetime(2024, 3, 5, 9, 15, tzinfo=UTC), None]
    out = to_utc_array(values, "Asia/Shanghai").to_pylist()
    assert out == [
        datetime(2024, 3, 5, 1, 15, tzinfo=UTC),
        datetime(2024, 3, 5, 9, 15, tzinfo=UTC),
        None,
    ]


def test_dst_ambiguous_times_take_the_first_occurrence_and_gap_times_its_end() -> None:
    values = [datetime(2024, 11, 3, 1, 30), datetime(2024, 3, 10, 2, 30)]
    out = to_utc_array(values, "America/New_York").to_pylist()
    assert out == [
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
    ]


def test_the_column_path_and_the_value_path_agree() -> None:
    texts = ["2024-03-05T09:15:00+08:00", "2024-03-05 09:15:00", "2024-03-05", None]
    fast = iso_strings_to_utc(pa.array(texts), "Asia/Shanghai")
    slow = iso_strings_to_utc(pa.array([*texts, "2024/3/5 9:15"]), "Asia/Shanghai")
    assert slow.to_pylist()[:4] == fast.to_pylist()
    assert slow[4].as_py() == datetime(2024, 3, 5, 1, 15, tzinfo=UTC)


def test_unknown_time_zones_are_refused_before_reading() -> None:
    with pytest.raises(UnknownTimeZone, match="not an IANA name"):
        check_time_zone("China Standard Time")
    assert issubclass(UnknownTimeZone, ConnectorError)


# --- ids and attrs -----------------------------------------------------------------------------


def test_event_ids_are_deterministic_and_depend_on_source_and_key() -> None:
    assert event_id("koha", "issue", "7") == event_id("koha", "issue", "7")
    assert event_id("koha", "issue", "7") != event_id("koha-2", "issue", "7")
    assert event_id("s", "ab", "c") != event_id("s", "a", "bc")
    assert len(event_id("s", "k")) == 24
    line = "a log line 中文"
    assert event_ids_of_lines(source_prefix("s"), [line.encode()]) == [event_id("s", line)]


def test_attrs_from_columns_skips_nulls_and_leaves_empty_rows_null() -> None:
    attrs = attrs_from_columns(
        {"a": pa.array(["1", None, None]), "b": pa.array([None, "2", None])}, 3
    )
    assert attrs.to_pylist() == [[("a", "1")], [("b", "2")], None]


@pytest.mark.parametrize("source", ["", "   ", "x" * 65, "tab\there"])
def test_bad_source_names_are_refused(source: str) -> None:
    with pytest.raises(ConnectorError):
        check_source(source)


def test_zlib_errors_are_damage_not_crashes() -> None:
    packed = bytearray(gzip.compress(b"line\n" * 1000))
    packed[20:40] = b"\x00" * 20  # corrupt deflate data
    _lines, findings = read_lines(bytes(packed))
    assert findings.truncated
    assert "after line" in findings.rejects[-1].reason
    assert isinstance(zlib.error, type)
