"""COUNTER R5 and R5.1 title and database reports → usage rows with JSON-path rejects."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from typing import Any

import pytest

from libcrm.events.connectors import counter
from libcrm.events.connectors.base import RAW_SCHEMA
from libcrm.events.connectors.tests.collect import Collected, collect


def tr_item(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Title": "计算机学报",
        "Item_ID": [
            {"Type": "Print_ISSN", "Value": "0254-4164"},
            {"Type": "Proprietary", "Value": "CNKI:JSJX"},
        ],
        "Platform": "CNKI",
        "Publisher": "科学出版社",
        "Data_Type": "Journal",
        "Section_Type": "Article",
        "YOP": "2023",
        "Access_Type": "Controlled",
        "Access_Method": "Regular",
        "Performance": [
            {
                "Period": {"Begin_Date": "2024-01-01", "End_Date": "2024-01-31"},
                "Instance": [
                    {"Metric_Type": "Total_Item_Requests", "Count": 12},
                    {"Metric_Type": "Unique_Item_Requests", "Count": 9},
                ],
            },
            {
                "Period": {"Begin_Date": "2024-02-01", "End_Date": "2024-02-29"},
                "Instance": [{"Metric_Type": "Total_Item_Requests", "Count": 3}],
            },
        ],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def report(items: list[Any], **header: Any) -> dict[str, Any]:
    return {
        "Report_Header": {
            "Report_Name": "Title Master Report",
            "Report_ID": "TR",
            "Release": "5",
            "Institution_Name": "示例大学图书馆",
            "Created": "2024-03-02T08:00:00Z",
            **header,
        },
        "Report_Items": items,
    }


def read(doc: Any, *, gz: bool = False) -> Collected:
    data = json.dumps(doc, ensure_ascii=False, indent=2).encode()
    return collect(
        counter.read(io.BytesIO(gzip.compress(data) if gz else data), source="cnki", tz="UTC")
    )


def test_an_r5_title_report_gives_one_row_per_metric_and_month() -> None:
    out = read(report([tr_item()]), gz=True)
    assert out.rejects == []
    assert all(b.schema.equals(counter.USAGE_SCHEMA) for b in out.batches)
    rows = [(r["title"], r["metric_type"], r["month"], r["count"]) for r in out.rows]
    assert rows == [
        ("计算机学报", "Total_Item_Requests", date(2024, 1, 1), 12),
        ("计算机学报", "Unique_Item_Requests", date(2024, 1, 1), 9),
        ("计算机学报", "Total_Item_Requests", date(2024, 2, 1), 3),
    ]
    first = out.rows[0]
    assert (first["report_id"], first["release"], first["platform"]) == ("TR", "5", "CNKI")
    assert (first["print_issn"], first["proprietary_id"]) == ("0254-4164", "CNKI:JSJX")
    assert (first["data_type"], first["yop"], first["access_method"]) == (
        "Journal",
        "2023",
        "Regular",
    )
    assert first["institution"] == "示例大学图书馆"


def test_usage_rows_carry_no_patron_and_are_not_raw_events() -> None:
    names = set(counter.USAGE_SCHEMA.names)
    assert not names & {"identifier_kind", "identifier_value", "patron_key"}
    assert not counter.USAGE_SCHEMA.equals(RAW_SCHEMA)


def test_an_r51_database_report() -> None:
    item = {
        "Database": "Web of Science Core Collection",
        "Item_ID": {"Proprietary": "WOS:WOSCC"},
        "Platform": "Web of Science",
        "Attribute_Performance": [
            {
                "Data_Type": "Database_AI",
                "Access_Method": "Regular",
                "Performance": {
                    "Searches_Regular": {"2024-01": 100, "2024-02": 80},
                    "Total_Item_Investigations": {"2024-01": 40},
                },
            }
        ],
    }
    out = read(report([item], Report_ID="DR", Release="5.1"))
    assert out.rejects == []
    assert [(r["database"], r["metric_type"], r["month"], r["count"]) for r in out.rows] == [
        ("Web of Science Core Collection", "Searches_Regular", date(2024, 1, 1), 100),
        ("Web of Science Core Collection", "Searches_Regular", date(2024, 2, 1), 80),
        ("Web of Science Core Collection", "Total_Item_Investigations", date(2024, 1, 1), 40),
    ]
    assert out.rows[0]["title"] is None and out.rows[0]["proprietary_id"] == "WOS:WOSCC"


def test_a_malformed_item_is_rejected_whole_with_every_problem_by_path() -> None:
    bad = tr_item(
        Platform=...,
        Performance=[
            {
                "Period": {"Begin_Date": "2024-01-05", "End_Date": "2024-01-31"},
                "Instance": [
                    {"Metric_Type": "Clicks", "Count": 1},
                    {"Metric_Type": "Total_Item_Requests", "Count": -2},
                ],
            }
        ],
    )
    out = read(report([tr_item(), bad, tr_item(Title=...), "text"]))
    assert [(f, r) for _, f, r in out.problems] == [
        ("$.Report_Items[1].Platform", "missing"),
        ("$.Report_Items[1].Performance[0].Period", "not one calendar month (Begin_Date…End_Date)"),
        (
            "$.Report_Items[1].Performance[0].Instance[0].Metric_Type",
            "unknown Metric_Type 'Clicks'",
        ),
        (
            "$.Report_Items[1].Performance[0].Instance[1].Count",
            "a count is a whole number of at least 0, not -2",
        ),
        ("$.Report_Items[2].Title", "missing"),
        ("$.Report_Items[3]", "a report item must be an object"),
    ]
    assert len(out.rows) == 3  # the good item only


@pytest.mark.parametrize(
    ("header", "field", "reason"),
    [
        ({"Release": "4"}, "$.Report_Header.Release", "release '4' is not read (5 and 5.1 are)"),
        (
            {"Report_ID": "PR"},
            "$.Report_Header.Report_ID",
            "'PR': only title (TR…) and database (DR…) reports are read",
        ),
    ],
)
def test_unsupported_reports_are_refused_by_their_header(
    header: dict[str, str], field: str, reason: str
) -> None:
    out = read(report([tr_item()], **header))
    assert out.problems == [(1, field, reason)]
    assert out.rows == []


def test_sushi_exceptions_become_notices_or_a_reject() -> None:
    warned = read(
        report(
            [tr_item()],
            Exceptions=[
                {"Code": 3032, "Severity": "Warning", "Message": "Usage No Longer Available"}
            ],
        )
    )
    assert warned.notice("SUSHI exception 3032 (Warning): Usage No Longer Available")
    assert len(warned.rows) == 3
    refused = read({"Code": 3030, "Severity": "Error", "Message": "No Usage Available"})
    assert [r for _, _, r in refused.problems] == [
        "the SUSHI server sent exception 3030: No Usage Available — no report"
    ]


def test_a_file_without_a_header_is_not_a_report() -> None:
    out = read({"Report_Items": [tr_item()]})
    assert out.problems == [(1, "Report_Header", "missing: this is not a COUNTER report")]
    assert out.rows == []


def test_a_header_after_the_items_still_works() -> None:
    doc = report([tr_item()])
    out = read({"Report_Items": doc["Report_Items"], "Report_Header": doc["Report_Header"]})
    assert len(out.rows) == 3 and out.rejects == []


def test_usage_ids_are_stable_and_distinct() -> None:
    first, again = read(report([tr_item()])), read(report([tr_item()]))
    assert first.column("usage_id") == again.column("usage_id")
    assert len(set(first.column("usage_id"))) == 3


def test_a_revised_count_keeps_its_usage_id_so_it_can_replace_the_old_one() -> None:
    revised = tr_item()
    revised["Performance"][0]["Instance"][0]["Count"] = 13
    before, after = read(report([tr_item()])), read(report([revised]))
    assert before.column("usage_id") == after.column("usage_id")
    assert before.rows[0]["count"] == 12 and after.rows[0]["count"] == 13


def test_r51_shape_problems_are_named_by_path() -> None:
    items = [
        {"Title": "T", "Platform": "P", "Item_ID": "10.1/x", "Attribute_Performance": []},
        {"Title": "T", "Platform": "P"},
        {
            "Title": "T",
            "Platform": "P",
            "Attribute_Performance": [{"Performance": {"Total_Item_Requests": {"March": 1}}}],
        },
        {"Title": "T", "Platform": "P", "Item_ID": [{"Type": "DOI"}], "Attribute_Performance": []},
    ]
    out = read(report(items, Release="5.1"))
    assert [(f, r) for _, f, r in out.problems] == [
        ("$.Report_Items[0].Item_ID", "must be a list of {Type, Value} or an object"),
        ("$.Report_Items[1].Attribute_Performance", "missing or not a list"),
        (
            "$.Report_Items[2].Attribute_Performance[0].Performance.Total_Item_Requests.March",
            "not a month like 2024-03",
        ),
        ("$.Report_Items[3].Item_ID[0]", "must be {Type, Value}"),
    ]
