"""EZproxy logs: platforms and their article keys, what is skipped, what is rejected."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.connectors import ezproxy
from libcrm.events.connectors.base import ConnectorError, event_id
from libcrm.events.connectors.tests.collect import Collected, collect


def log_line(
    url: str,
    *,
    user: str = "C0012345",
    session: str = "-",
    status: int | str = 200,
    method: str = "GET",
    when: str = "05/Mar/2024:09:15:02 +0800",
    combined: bool = True,
) -> str:
    tail = ' "https://lib.example.edu/" "Mozilla/5.0 (Windows NT 10.0)"' if combined else ""
    return f'203.0.113.9 {session} {user} [{when}] "{method} {url} HTTP/1.1" {status} 5120{tail}'


def read(text: str | bytes | Path, **kwargs: Any) -> Collected:
    if isinstance(text, str):
        text = text.encode()
    source = io.BytesIO(text) if isinstance(text, bytes) else text
    return collect(ezproxy.read(source, source="ezproxy", tz="Asia/Shanghai", **kwargs))


@pytest.mark.parametrize(
    ("url", "type_", "item", "platform"),
    [
        (
            "https://kns.cnki.net/kcms/detail/detail.aspx?dbcode=cjfd&filename=JSJX202001001",
            "eresource_access",
            "kns.cnki.net/CJFD/JSJX202001001",
            "cnki",
        ),
        (
            "https://kns.cnki.net/kns8/download?filename=jsjx202001001&tablename=CJFDLAST",
            "download",
            "kns.cnki.net/JSJX202001001",
            "cnki",
        ),
        (
            "https://d.wanfangdata.com.cn/periodical/jsjxb202001001",
            "eresource_access",
            "d.wanfangdata.com.cn/periodical/jsjxb202001001",
            "wanfang",
        ),
        (
            "https://www.webofscience.com/wos/woscc/full-record/WOS:000512345600001",
            "eresource_access",
            "www.webofscience.com/WOS:000512345600001",
            "wos",
        ),
        (
            "https://www.sciencedirect.com/science/article/pii/S0957417420301234/pdfft?md5=1",
            "download",
            "www.sciencedirect.com/pii/S0957417420301234",
            "sciencedirect",
        ),
        (
            "https://ieeexplore.ieee.org/document/8765432",
            "eresource_access",
            "ieeexplore.ieee.org/document/8765432",
            "ieee",
        ),
        (
            "https://ieeexplore.ieee.org/stamp/stamp.jsp?tp=&arnumber=8765432",
            "download",
            "ieeexplore.ieee.org/document/8765432",
            "ieee",
        ),
        (
            "https://link.springer.com/article/10.1007/s10115-020-01234-5",
            "eresource_access",
            "link.springer.com/10.1007/s10115-020-01234-5",
            "springer",
        ),
        (
            "https://link.springer.com/content/pdf/10.1007/s10115-020-01234-5.pdf",
            "download",
            "link.springer.com/10.1007/s10115-020-01234-5",
            "springer",
        ),
        ("http://www.jstor.org:80/stable/123", "eresource_access", "www.jstor.org", None),
        ("https://Muse.JHU.edu/fulltext/abc", "download", "muse.jhu.edu", None),
    ],
)
def test_requests_become_access_or_download_of_an_item(
    url: str, type_: str, item: str, platform: str | None
) -> None:
    out = read(log_line(url))
    assert out.rejects == []
    (row,) = out.rows
    assert (row["type"], row["item_id"]) == (type_, item)
    assert dict(row["attrs"] or []).get("platform") == platform
    assert row["channel"] == "web"
    assert row["identifier_kind"] == "library_card"
    assert row["identifier_value"] == "C0012345"
    assert row["occurred_at"] == datetime(2024, 3, 5, 1, 15, 2, tzinfo=UTC)


def test_the_log_offset_is_used_not_the_tz_argument() -> None:
    out = read(log_line("https://a.org/", when="05/Mar/2024:09:15:02 -0500"))
    assert out.rows[0]["occurred_at"] == datetime(2024, 3, 5, 14, 15, 2, tzinfo=UTC)


def test_common_format_and_the_session_variant_are_read() -> None:
    out = read(log_line("https://a.org/x", session="Ux7Kq2", combined=False))
    assert out.rows[0]["attrs"] == [("session", "Ux7Kq2")]


def test_client_address_referrer_and_user_agent_never_reach_the_event() -> None:
    row = read(log_line("https://a.org/x")).rows[0]
    assert "203.0.113.9" not in repr(row)
    assert "Mozilla" not in repr(row) and "lib.example.edu" not in repr(row)


def test_skipped_requests_are_counted_in_notices_not_rejected() -> None:
    text = "\n".join(
        [
            log_line("https://a.org/x", user="-"),
            log_line("https://a.org/x", status=404),
            log_line("https://a.org/x", status=500),
            log_line("https://a.org/x", method="HEAD"),
            log_line("https://a.org/styles/site.css?v=2"),
            log_line("https://a.org/logo.PNG"),
            log_line("/menu"),
            log_line("/login"),
            log_line("https://a.org/kept"),
        ]
    )
    out = read(text)
    assert out.rejects == []
    assert out.column("line") == [9]
    assert out.notice("anonymous").count == 1
    assert out.notice("error status").count == 2
    assert out.notice("other than GET").count == 1
    assert out.notice("page assets").count == 2
    assert out.notice("own pages").count == 2


def test_a_starting_point_url_counts_as_access_to_its_target() -> None:
    out = read(
        "\n".join(
            [
                log_line("/login?url=https://www.jstor.org/stable/123?a=1&b=2", status=302),
                log_line("/login?qurl=https%3A%2F%2Fkns.cnki.net%2Fkns8%2Fdefaultresult%2Findex"),
            ]
        )
    )
    assert out.column("item_id") == ["www.jstor.org", "kns.cnki.net"]


def test_proxy_by_hostname_is_undone_with_the_proxy_suffix() -> None:
    url = "https://www-sciencedirect-com.ezproxy.lib.example.edu/science/article/pii/S0957417420301234"
    row = read(log_line(url), proxy_suffix="ezproxy.lib.example.edu").rows[0]
    assert row["item_id"] == "www.sciencedirect.com/pii/S0957417420301234"
    hyphen = "https://pubs-rsc--org-com.ezproxy.lib.example.edu/x"
    assert read(log_line(hyphen), proxy_suffix="ezproxy.lib.example.edu").rows[0]["item_id"] == (
        "pubs.rsc-org.com"
    )


def test_bad_lines_are_rejected_with_their_field() -> None:
    text = "\n".join(
        [
            log_line("https://a.org/1"),
            "this is not a log line",
            log_line("https://a.org/2", when="35/Mar/2024:09:15:02 +0800"),
            '203.0.113.9 - C1 [05/Mar/2024:09:15:02 +0800] "GARBAGE" 200 0',
            '203.0.113.9 - C1 [05/Mar/2024:09:15:02 +0800] "-" 408 0',
            "",
            log_line("https://a.org/3"),
        ]
    )
    out = read(text)
    assert out.problems == [
        (2, "", ezproxy.NOT_LOG_LINE),
        (3, "time", f"{ezproxy.BAD_TIME}: '35/Mar/2024:09:15:02 +0800'"),
        (4, "request", f"{ezproxy.BAD_REQUEST}: 'GARBAGE'"),
    ]
    assert out.column("line") == [1, 7]
    assert out.notice("error status").count == 1  # the "-" request with 408


def test_event_ids_are_the_line_text_hashed_and_stable() -> None:
    line = log_line("https://a.org/x")
    out = read(line + "\n" + line.replace("C0012345", "C2"))
    assert out.rows[0]["event_id"] == event_id("ezproxy", line)
    assert read(line).rows[0]["event_id"] == out.rows[0]["event_id"]


def test_identifier_kind_is_configurable_and_checked() -> None:
    row = read(log_line("https://a.org/x", user="2021012345"), identifier_kind="campus_id").rows[0]
    assert (row["identifier_kind"], row["identifier_value"]) == ("campus_id", "2021012345")
    with pytest.raises(ConnectorError):
        next(ezproxy.read(io.BytesIO(b""), source="s", tz="UTC", identifier_kind="badge"))


def test_many_blocks_in_parallel_keep_order_lines_and_rejects(tmp_path: Path) -> None:
    lines = [log_line(f"https://a.org/{n}") if n % 1000 else "broken line" for n in range(1, 10001)]
    path = tmp_path / "ezproxy.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = read(path, batch_size=700)
    assert len(out.rows) == 9990
    assert out.column("line") == [n for n in range(1, 10001) if n % 1000]
    assert [r.line for r in out.rejects] == list(range(1000, 10001, 1000))


def test_a_truncated_gzip_log_keeps_what_was_read(tmp_path: Path) -> None:
    text = "\n".join(log_line(f"https://a.org/{n}") for n in range(5000)) + "\n"
    packed = gzip.compress(text.encode())
    out = read(packed[: len(packed) * 2 // 3])
    n = len(out.rows)
    assert 0 < n < 5000
    assert out.problems == [(n + 1, "", f"file truncated (gzip stream ended early) after line {n}")]


def test_rejects_name_the_file_without_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "ezproxy-2024-03.log"
    path.parent.mkdir()
    path.write_text("garbage\n")
    assert [(r.file, r.line) for r in read(path).rejects] == [("ezproxy-2024-03.log", 1)]
    path.write_text("")
    assert read(path).problems == [(1, "", "the file is empty")]


def test_an_article_key_too_long_for_an_item_id_moves_to_attrs() -> None:
    doi = "10.1007/978-3-030-12345-6_" + "7" * 60
    row = read(log_line(f"https://link.springer.com/chapter/{doi}")).rows[0]
    assert row["item_id"] == "link.springer.com"
    assert ("article", doi) in row["attrs"]
