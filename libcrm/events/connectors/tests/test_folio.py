"""FOLIO mod-circulation loans: shapes, identifiers, renewals from loan history, rejects."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from libcrm.events.connectors import folio
from libcrm.events.connectors.tests.collect import Collected, collect


def loan(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "0a6f3c2e-1b8e-4f63-9a4c-2f8d51f7a001",
        "userId": "7e1b2a44-9a4d-4c6a-8f3e-000000000042",
        "itemId": "b2d0c7f1-5e3a-4b8e-9d21-000000001001",
        "loanDate": "2024-03-05T01:15:00.000+00:00",
        "dueDate": "2024-03-19T23:59:59.000+00:00",
        "action": "checkedout",
        "status": {"name": "Open"},
        "renewalCount": 0,
        "checkoutServicePointId": "sp-main",
        "borrower": {"firstName": "三", "lastName": "张", "barcode": "C0012345"},
        "item": {"title": "数据挖掘：概念与技术", "instanceId": "inst-77", "barcode": "31001"},
        "metadata": {"updatedDate": "2024-03-05T01:15:00.000+00:00"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def read(data: str, **kwargs: Any) -> Collected:
    return collect(
        folio.read(io.BytesIO(data.encode()), source="folio", tz="Asia/Shanghai", **kwargs)
    )


def test_a_loans_page_gives_loan_and_return_events() -> None:
    returned = loan(
        id="l-2",
        returnDate="2024-03-10T08:00:00Z",
        status={"name": "Closed"},
        action="checkedin",
        checkinServicePointId="sp-east",
    )
    page = {"loans": [loan(), returned], "totalRecords": 2}
    out = read(json.dumps(page, ensure_ascii=False, indent=2), service_points={"sp-main": "总馆"})
    assert out.rejects == []
    rows = [(r["line"], r["type"], r["occurred_at"], r["branch"]) for r in out.rows]
    assert rows == [
        (3, "loan", datetime(2024, 3, 5, 1, 15, tzinfo=UTC), "总馆"),
        (29, "loan", datetime(2024, 3, 5, 1, 15, tzinfo=UTC), "总馆"),
        (29, "return", datetime(2024, 3, 10, 8, 0, tzinfo=UTC), None),
    ]
    assert out.rows[2]["attrs"] == [("service_point", "sp-east")]
    assert out.notice("service point 'sp-east' is not in the service_points mapping").count == 1
    first = out.rows[0]
    assert (first["identifier_kind"], first["identifier_value"]) == ("library_card", "C0012345")
    assert first["item_id"] == "b2d0c7f1-5e3a-4b8e-9d21-000000001001"
    assert ("instance_id", "inst-77") in first["attrs"]
    assert "张" not in repr(out.rows), "the borrower's name is not carried"


def test_without_a_barcode_the_user_id_is_the_identifier() -> None:
    out = read(json.dumps(loan(borrower=...), ensure_ascii=False), patron_prefix="folio-uni")
    assert (out.rows[0]["identifier_kind"], out.rows[0]["identifier_value"]) == (
        "other",
        "folio-uni:7e1b2a44-9a4d-4c6a-8f3e-000000000042",
    )


def test_loan_history_repeats_collapse_and_each_renewal_is_its_own_event() -> None:
    history = [
        loan(),
        loan(action="renewed", renewalCount=1, metadata={"updatedDate": "2024-03-12T02:00:00Z"}),
        loan(action="renewed", renewalCount=2, metadata={"updatedDate": "2024-03-19T02:00:00Z"}),
        loan(
            action="checkedin",
            renewalCount=2,
            returnDate="2024-03-25T02:00:00Z",
            metadata={"updatedDate": "2024-03-25T02:00:00Z"},
        ),
    ]
    out = read("\n".join(json.dumps(h, ensure_ascii=False) for h in history))
    by_id: dict[str, tuple[str, Any]] = {}
    for row in out.rows:
        by_id[row["event_id"]] = (row["type"], row["occurred_at"])
    assert sorted(by_id.values(), key=lambda v: v[1]) == [
        ("loan", datetime(2024, 3, 5, 1, 15, tzinfo=UTC)),
        ("renewal", datetime(2024, 3, 12, 2, 0, tzinfo=UTC)),
        ("renewal", datetime(2024, 3, 19, 2, 0, tzinfo=UTC)),
        ("return", datetime(2024, 3, 25, 2, 0, tzinfo=UTC)),
    ]


def test_a_renewal_without_a_time_is_counted_not_invented() -> None:
    out = read(json.dumps(loan(action="renewed", renewalCount=1, metadata=...)))
    assert out.column("type") == ["loan"]
    assert out.notice("renewals without metadata.updatedDate").count == 1


def test_rejects_name_the_json_path_and_the_others_still_land() -> None:
    page = {
        "loans": [
            loan(id="ok-1"),
            loan(id=..., loanDate="5 March"),
            loan(id="l-3", userId=..., borrower=...),
            loan(id="l-4", renewalCount=-1),
            ["not", "a", "loan"],
            loan(id="ok-2"),
        ]
    }
    out = read(json.dumps(page, indent=1))
    assert [(f, r) for _, f, r in out.problems] == [
        ("$.loans[1].id", "missing"),
        ("$.loans[1].loanDate", "not a date and time: '5 March'"),
        ("$.loans[2].userId", folio.NO_PATRON),
        ("$.loans[3].renewalCount", "not a whole number: -1"),
        ("$.loans[4]", "a loan must be a JSON object"),
    ]
    assert len(out.rows) == 2


def test_a_malformed_loan_in_the_middle_is_skipped_and_reading_resumes() -> None:
    text = json.dumps({"loans": [loan(id="a"), loan(id="b"), loan(id="c")]}, indent=2)
    broken = text.replace('"id": "b"', '"id": b', 1)
    out = read(broken)
    assert len(out.problems) == 1
    _line, field, reason = out.problems[0]
    assert field == "$.loans[1]" and reason.startswith("malformed JSON (Expecting value at line")
    assert sorted({r["line"] for r in out.rows}) == [3, 55]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "the file is empty"),
        (
            '{"loans": [',
            "malformed JSON (the array is not closed at line 2 column 1); rest of file skipped",
        ),
    ],
)
def test_empty_and_unfinished_documents(data: str, reason: str) -> None:
    assert [r for _, _, r in read(data).problems] == [reason]


def test_a_member_of_the_wrong_json_type_is_named() -> None:
    out = read(json.dumps(loan(itemId={"uuid": "x"})))
    assert out.problems == [(1, "itemId", "must be text or a number")]
