"""Koha: statistics and old_issues CSV exports, REST API checkouts."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events.connectors import koha
from libcrm.events.connectors.base import ConnectorError
from libcrm.events.connectors.tests.collect import Collected, collect

STATISTICS = """datetime,branch,type,other,itemnumber,itemtype,location,borrowernumber,ccode
2024-03-05 09:15:00,MAIN,issue,,1001,BK,STACKS,42,CS
2024-03-05 09:16:00,MAIN,return,,1001,BK,STACKS,42,CS
2024-03-05 09:17:00,MAIN,renew,,1002,BK,STACKS,42,
2024-03-05 09:18:00,MAIN,localuse,,1003,BK,REF,43,
2024-03-05 09:19:00,EAST,onsite_checkout,,1004,BK,REF,44,
2024-03-05 09:20:00,MAIN,payment,,,,,42,
2024-03-05 09:21:00,MAIN,return,,1005,BK,STACKS,,
"""

OLD_ISSUES = (
    "issue_id,borrowernumber,itemnumber,date_due,branchcode,returndate,lastreneweddate,"
    "renewals,auto_renew,timestamp,issuedate,onsite_checkout\n"
    "501,42,1001,2024-03-20 23:59:00,MAIN,2024-03-18 10:00:00,2024-03-10 11:00:00,2,0,"
    "2024-03-18 10:00:00,2024-03-05 09:15:00,0\n"
    "502,43,1002,2024-03-20 23:59:00,MAIN,NULL,NULL,0,1,2024-03-05 09:15:00,"
    "2024-03-05 09:15:00,1\n"
)


def read(data: str | bytes | Path, **kwargs: Any) -> Collected:
    if isinstance(data, str):
        data = data.encode()
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return collect(koha.read(source, source="koha", tz="Asia/Shanghai", **kwargs))


def test_statistics_rows_become_circulation_events_in_utc() -> None:
    out = read(STATISTICS)
    assert out.rejects == []
    assert [(r["line"], r["type"]) for r in out.rows] == [
        (2, "loan"),
        (3, "return"),
        (4, "renewal"),
        (6, "loan"),
    ]
    first = out.rows[0]
    assert first["occurred_at"] == datetime(2024, 3, 5, 1, 15, tzinfo=UTC)  # Koha local time
    assert (first["identifier_kind"], first["identifier_value"]) == ("other", "koha:42")
    assert (first["branch"], first["item_id"], first["channel"]) == ("MAIN", "1001", "physical")
    assert first["attrs"] == [("itemtype", "BK"), ("location", "STACKS"), ("ccode", "CS")]
    assert ("onsite", "true") in out.rows[3]["attrs"]
    assert out.notice("'payment' (no event type for it)").count == 1
    assert out.notice("'localuse' (no event type for it)").count == 1
    mapped = read(STATISTICS, statistics_types={"localuse": "reading_session"})
    assert [r["type"] for r in mapped.rows if r["line"] == 5] == ["reading_session"]
    assert out.notice("without a patron").count == 1


def test_statistics_rejects() -> None:
    text = (
        STATISTICS.splitlines()[0]
        + "\n"
        + "\n".join(
            [
                "2024-03-05 09:15:00,MAIN,checkin,,1001,BK,STACKS,42,CS",
                "03/05/2024 9am,MAIN,issue,,1001,BK,STACKS,42,CS",
                ",MAIN,issue,,1001,BK,STACKS,42,CS",
                "2024-03-05 09:15:00,MAIN,issue,,1001,BK,STACKS,forty-two,CS",
                "2024-03-05 09:15:00,MAIN,issue,,1001",
                "2024-03-05 09:15:00,MAIN,,,1001,BK,STACKS,42,CS",
                "2024-03-05 09:15:00,MAIN,issue,,1001,BK,STACKS,42,CS",
            ]
        )
    )
    out = read(text)
    assert out.problems == [
        (
            2,
            "type",
            "unknown Koha statistics type 'checkin' (issue, item_found, item_lost, "
            "localuse, onsite_checkout, payment, recall, renew, return, writeoff)",
        ),
        (3, "datetime", "not a date and time: '03/05/2024 9am'"),
        (4, "datetime", "missing"),
        (5, "borrowernumber", "a borrowernumber is a whole number, not 'forty-two'"),
        (6, "", "expected 9 fields like the header, found 5"),
        (7, "type", "missing"),
    ]
    assert out.column("line") == [8]


def test_patron_identifiers_follow_the_options() -> None:
    text = "datetime,type,itemnumber,borrowernumber,cardnumber\n" + (
        "2024-03-05 09:15:00,issue,1,42,C0042\n2024-03-05 09:16:00,issue,2,43,\n"
    )
    auto = read(text)
    assert [(r["identifier_kind"], r["identifier_value"]) for r in auto.rows] == [
        ("library_card", "C0042"),
        ("other", "koha:43"),
    ]
    numbers = read(text, patron_identifier="borrowernumber", patron_prefix="koha-east")
    assert numbers.column("identifier_value") == ["koha-east:42", "koha-east:43"]
    cards = read(text, patron_identifier="cardnumber")
    assert cards.column("identifier_value") == ["C0042"]
    assert cards.problems == [(3, "cardnumber", "missing (patron_identifier='cardnumber')")]
    skipped = read(text, anonymous_patron="43", patron_identifier="borrowernumber")
    assert skipped.column("identifier_value") == ["koha:42"]
    with pytest.raises(ConnectorError):
        next(koha.read(io.BytesIO(b""), source="k", tz="UTC", patron_prefix="a:b"))
    with pytest.raises(ConnectorError, match="unknown event types"):
        next(koha.read(io.BytesIO(b""), source="k", tz="UTC", statistics_types={"x": "use"}))


def test_old_issues_give_loan_renewal_and_return() -> None:
    out = read(OLD_ISSUES)
    assert out.rejects == []
    events = [(r["line"], r["type"], r["occurred_at"], r["quantity"]) for r in out.rows]
    assert events == [
        (2, "loan", datetime(2024, 3, 5, 1, 15, tzinfo=UTC), None),
        (2, "renewal", datetime(2024, 3, 10, 3, 0, tzinfo=UTC), 2),
        (2, "return", datetime(2024, 3, 18, 2, 0, tzinfo=UTC), None),
        (3, "loan", datetime(2024, 3, 5, 1, 15, tzinfo=UTC), None),
    ]
    assert out.rows[3]["attrs"] == [
        ("due", "2024-03-20 23:59:00"),
        ("onsite", "true"),
        ("auto_renew", "true"),
    ]
    assert len(set(out.column("event_id"))) == 4


def test_old_issues_rejects() -> None:
    header = OLD_ISSUES.splitlines()[0]
    out = read(
        header
        + "\n503,42,1001,,MAIN,not yet,,x,0,,2024-03-05 09:15:00,0"
        + "\n504,42,1001,,MAIN,,,,0,,,0\n"
    )
    assert out.problems == [
        (2, "returndate", "not a date and time: 'not yet'"),
        (2, "renewals", "not a whole number: 'x'"),
        (3, "issuedate", "missing"),
    ]
    assert out.rows == []


def test_a_csv_that_is_neither_export_is_refused_with_its_header() -> None:
    out = read("when,who\n2024-03-05,42\n")
    assert out.problems == [
        (
            1,
            "",
            "neither a statistics export (datetime, type, …) nor an issues/old_issues "
            "export (issuedate, …); the header has: when, who",
        )
    ]


def test_a_gbk_tab_separated_export_with_chinese_branch_names(tmp_path: Path) -> None:
    text = STATISTICS.replace(",", "\t").replace("MAIN", "总馆")
    path = tmp_path / "statistics.tsv.gz"
    path.write_bytes(gzip.compress(text.encode("gbk")))
    out = read(path)
    assert out.rows[0]["branch"] == "总馆"
    assert out.notice("GB18030")
    assert out.column("event_id") == read(STATISTICS.replace("MAIN", "总馆")).column("event_id")


CHECKOUTS = [
    {
        "checkout_id": 7001,
        "patron_id": 42,
        "item_id": 1001,
        "library_id": "MAIN",
        "checkout_date": "2024-03-05T09:15:00+08:00",
        "due_date": "2024-03-20T23:59:00+08:00",
        "checkin_date": "2024-03-18T10:00:00+08:00",
        "last_renewed_date": None,
        "renewals_count": 0,
        "auto_renew": False,
        "onsite_checkout": False,
    },
    {
        "checkout_id": 7002,
        "patron_id": 43,
        "item_id": 1002,
        "library_id": "EAST",
        "checkout_date": "2024-03-06T10:00:00+08:00",
        "last_renewed_date": "2024-03-12T10:00:00+08:00",
        "renewals_count": 1,
        "patron": {"cardnumber": "C0043", "surname": "王"},
    },
]


@pytest.mark.parametrize("shape", ["array", "ndjson", "single"])
def test_rest_api_checkouts(shape: str) -> None:
    if shape == "array":
        data = json.dumps(CHECKOUTS, ensure_ascii=False, indent=2)
    elif shape == "ndjson":
        data = "\n".join(json.dumps(c, ensure_ascii=False) for c in CHECKOUTS)
    else:
        data = json.dumps(CHECKOUTS[1], ensure_ascii=False)
    out = read(data)
    assert out.rejects == []
    events = [(r["type"], r["identifier_value"], r["occurred_at"]) for r in out.rows]
    expected = [
        ("loan", "koha:42", datetime(2024, 3, 5, 1, 15, tzinfo=UTC)),
        ("return", "koha:42", datetime(2024, 3, 18, 2, 0, tzinfo=UTC)),
        ("loan", "C0043", datetime(2024, 3, 6, 2, 0, tzinfo=UTC)),
        ("renewal", "C0043", datetime(2024, 3, 12, 2, 0, tzinfo=UTC)),
    ]
    assert events == (expected if shape != "single" else expected[2:])


def test_rest_api_rejects_name_the_json_path() -> None:
    bad = [
        {**CHECKOUTS[0], "checkout_date": "last week"},
        {**CHECKOUTS[0], "checkout_id": None},
        {**CHECKOUTS[0], "renewals_count": "two", "item_id": [1001]},
        "not an object",
        CHECKOUTS[1],
    ]
    out = read(json.dumps(bad, indent=2))
    assert [(f, r) for _, f, r in out.problems] == [
        ("$[0].checkout_date", "not a date and time: 'last week'"),
        ("$[1].checkout_id", "missing"),
        ("$[2].renewals_count", "not a whole number: 'two'"),
        ("$[2].item_id", "must be text or a number"),
        ("$[3]", "a checkout must be a JSON object"),
    ]
    assert out.column("identifier_value") == ["C0043", "C0043"]


def test_event_ids_are_stable_across_reimports() -> None:
    assert read(STATISTICS).column("event_id") == read(STATISTICS).column("event_id")
    assert read(OLD_ISSUES).column("event_id") == read(OLD_ISSUES).column("event_id")


def test_a_statistics_export_without_a_patron_column_is_refused() -> None:
    out = read("datetime,branch,type,itemnumber\n2024-03-05 09:15:00,MAIN,issue,1\n")
    assert out.problems == [
        (
            1,
            "borrowernumber",
            "no 'borrowernumber' column (the header has: datetime, branch, type, itemnumber)",
        )
    ]
