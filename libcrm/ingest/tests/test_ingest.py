"""The ingestion pipeline end to end: real connectors, real identity resolution, the real store."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from libcrm.api.services import create_api_token
from libcrm.events.selectors import patron_timeline
from libcrm.ingest.models import IngestionRun, ResourceUsage, RunStatus
from libcrm.ingest.selectors import reject_report
from libcrm.ingest.services import IngestError, ingest_file
from libcrm.patrons.models import Patron, PatronStatus
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def private_store(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.LIBCRM_DATA_DIR = tmp_path / "data"
    return tmp_path


def ndjson(path: Path, rows: list[dict[str, Any] | str], *, compress: bool = False) -> Path:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
    data = (text + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def event(kind: str, value: str, when: str, type_: str = "gate_in", **extra: Any) -> dict:
    return {
        "identifier": {"kind": kind, "value": value},
        "occurred_at": when,
        "type": type_,
        "channel": "physical",
        **extra,
    }


def rejects_of(run: IngestionRun) -> list[dict[str, str]]:
    path = reject_report(run)
    assert path is not None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def all_store_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (root / "events").rglob("*.parquet"))


def test_known_identifiers_in_any_written_form_resolve_to_their_patron(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    patron = make_patron(
        identifiers=[
            {"kind": "phone", "value": "13800138000"},
            {"kind": "library_card", "value": "LC0001"},
        ]
    )
    path = ndjson(
        tmp_path / "a.ndjson",
        [
            event("phone", "138-0013-8000", "2026-10-01T08:00:00+08:00"),
            event("phone", "+86 138 0013 8000", "2026-10-02T08:00:00+08:00"),
            event("library_card", "lc0001", "2026-10-03T08:00:00+08:00", "loan", item_id="ils:9"),
        ],
    )
    run = ingest_file(actor, path, format="ndjson", source="test")
    assert (run.status, run.added, run.rejected, run.provisional) == ("completed", 3, 0, 0)
    timeline = patron_timeline(patron.patron_key)
    assert [e["type"] for e in timeline.events] == ["loan", "gate_in", "gate_in"]


def test_unknown_identifier_makes_one_provisional_patron_across_rows_and_runs(
    tmp_path: Path, actor: Actor
) -> None:
    rows = [
        event("library_card", "NEW-001", f"2026-10-{d:02d}T09:00:00+08:00") for d in range(1, 21)
    ]
    path = ndjson(tmp_path / "b.ndjson", rows)
    first = ingest_file(actor, path, format="ndjson", source="gates")
    assert (first.added, first.provisional) == (20, 1)
    provisional = Patron.objects.get(status=PatronStatus.PROVISIONAL)
    assert provisional.identifiers.get().source == "gates"
    again = ingest_file(actor, path, format="ndjson", source="gates")
    assert (again.added, again.duplicates, again.provisional) == (0, 20, 0)
    assert Patron.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.INGEST_EVENTS).count() == 2


def test_reject_mode_refuses_unknown_identifiers_and_keeps_the_rest(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    path = ndjson(
        tmp_path / "c.ndjson",
        [
            event("library_card", "LC0001", "2026-10-01T08:00:00+08:00"),
            event("library_card", "LC9999", "2026-10-01T09:00:00+08:00"),
        ],
    )
    run = ingest_file(actor, path, format="ndjson", source="test", unknown="reject")
    assert (run.added, run.rejected, run.provisional) == (1, 1, 0)
    assert rejects_of(run) == [
        {
            "file": "c.ndjson",
            "line": "2",
            "field": "identifier_value",
            "reason": "no patron has this identifier",
        }
    ]


def test_bad_lines_are_reported_precisely_and_good_lines_land(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    path = ndjson(
        tmp_path / "d.ndjson",
        [
            event("library_card", "LC0001", "2026-10-01T08:00:00+08:00"),
            "{not json",
            event("phone", "12ab", "2026-10-01T08:00:00+08:00"),
            event("library_card", "LC0001", "2099-01-01T00:00:00+08:00"),
            event("library_card", "LC0001", "2026-10-02T08:00:00+08:00", type_="teleport"),
        ],
    )
    run = ingest_file(actor, path, format="ndjson", source="test")
    assert (run.received, run.added, run.rejected) == (5, 1, 4)
    found = {(r["line"], r["field"]) for r in rejects_of(run)}
    assert ("2", "") in found
    assert ("3", "identifier_value") in found
    assert ("4", "occurred_at") in found
    assert any(line == "5" for line, _f in found)


def test_the_event_store_never_sees_an_identifier(
    private_store: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "phone", "value": "13912345678"}])
    path = ndjson(
        private_store / "e.ndjson",
        [
            event("phone", "13912345678", "2026-10-01T08:00:00+08:00"),
            event("library_card", "CARD-SECRET-77", "2026-10-01T09:00:00+08:00"),
        ],
    )
    run = ingest_file(actor, path, format="ndjson", source="test")
    assert run.added == 2
    raw = all_store_bytes(private_store)
    assert raw and b"13912345678" not in raw and b"CARD-SECRET-77" not in raw
    names = {
        n for f in (private_store / "events").rglob("*.parquet") for n in pq.read_schema(f).names
    }
    assert not names & {"identifier_kind", "identifier_value", "line"}


def test_gzip_and_a_truncated_gzip_keep_the_lines_they_hold(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    rows = [
        event("library_card", "LC0001", f"2026-09-{d:02d}T08:00:00+08:00") for d in range(1, 29)
    ]
    whole = ndjson(tmp_path / "f.ndjson.gz", rows, compress=True)
    assert ingest_file(actor, whole, format="ndjson", source="gz").added == 28
    cut = tmp_path / "g.ndjson.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    run = ingest_file(actor, cut, format="ndjson", source="gz-cut")
    assert run.status == RunStatus.COMPLETED
    assert any("truncated" in r["reason"] for r in rejects_of(run))


def test_a_gbk_gate_export_is_read(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    path = tmp_path / "gate.csv"
    path.write_bytes(
        "时间,门禁,方向,卡号\n2026-10-01 08:00:00,G1,进,LC0001\n"
        "2026-10-01 10:00:00,G1,出,LC0001\n".encode("gbk")
    )
    run = ingest_file(actor, path, format="gate", source="gates", gates={"G1": ("main", None)})
    assert (run.status, run.added, run.rejected) == ("completed", 2, 0)
    assert any("GB18030" in n or "GBK" in n for n in run.notices)


def test_counter_usage_is_kept_apart_and_replaced_on_reimport(tmp_path: Path, actor: Actor) -> None:
    report = {
        "Report_Header": {
            "Release": "5",
            "Report_ID": "DR",
            "Report_Name": "Database Report",
            "Created": "2026-11-01T00:00:00Z",
            "Institution_Name": "明德大学图书馆",
            "Report_Filters": [],
            "Report_Attributes": [],
            "Exceptions": [],
        },
        "Report_Items": [
            {
                "Database": "中国知网 CNKI",
                "Publisher": "CNKI",
                "Platform": "CNKI",
                "Data_Type": "Database",
                "Access_Method": "Regular",
                "Item_ID": [],
                "Performance": [
                    {
                        "Period": {"Begin_Date": "2026-10-01", "End_Date": "2026-10-31"},
                        "Instance": [{"Metric_Type": "Searches_Regular", "Count": 120}],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "dr.json"
    path.write_text(json.dumps(report, ensure_ascii=False))
    first = ingest_file(actor, path, format="counter", source="cnki")
    assert (first.status, first.usage_rows, first.added) == ("completed", 1, 1), first.error
    again = ingest_file(actor, path, format="counter", source="cnki")
    assert (again.added, again.duplicates) == (0, 1)
    usage = ResourceUsage.objects.get()
    assert (usage.platform, usage.metric_type, usage.count) == ("CNKI", "Searches_Regular", 120)


def test_unknown_format_is_refused_before_anything_is_recorded(
    tmp_path: Path, actor: Actor
) -> None:
    with pytest.raises(IngestError, match="unknown format"):
        ingest_file(actor, tmp_path / "x", format="marcx", source="x")
    assert IngestionRun.objects.count() == 0


def test_cli_prints_a_summary_and_the_reject_report(
    tmp_path: Path, make_patron: Callable[..., Any], capsys: Any
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    path = ndjson(
        tmp_path / "h.ndjson",
        [event("library_card", "LC0001", "2026-10-01T08:00:00+08:00"), "oops"],
    )
    call_command("ingest", str(path), "--format", "ndjson", "--source", "cli")
    out = capsys.readouterr().out
    assert "2 rows read, 1 events added" in out and "1 rejected" in out
    assert "reject report:" in out


def test_rest_endpoint_takes_gzip_ndjson_with_the_right_scope(
    tmp_path: Path, client: Any, make_patron: Callable[..., Any], settings: Any
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    system = Actor.system("test")
    _token, writer = create_api_token(system, "gate bridge", ["events:write"])
    _token, reader = create_api_token(system, "reader", ["patrons:read"])
    body = gzip.compress(
        (
            json.dumps(event("library_card", "LC0001", "2026-10-01T08:00:00+08:00")) + "\n{bad\n"
        ).encode()
    )
    url = "/api/v1/events/ndjson?source=gate-bridge"
    refused = client.post(
        url, body, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {reader}"
    )
    assert refused.status_code == 403
    answer = client.post(
        url, body, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {writer}"
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["added"], data["rejected"]) == (1, 1)
    assert data["rejects"][0]["line"] == 2
    settings.LIBCRM_INGEST_MAX_BODY_BYTES = 10
    too_big = client.post(
        url, body, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {writer}"
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"


def test_an_identical_file_is_recognised_without_being_read_again(
    tmp_path: Path, make_patron: Callable[..., Any], actor: Actor
) -> None:
    make_patron(identifiers=[{"kind": "library_card", "value": "LC0001"}])
    clean = ndjson(
        tmp_path / "i.ndjson",
        [event("library_card", "LC0001", f"2026-08-{d:02d}T08:00:00+08:00") for d in range(1, 11)],
    )
    first = ingest_file(actor, clean, format="ndjson", source="x")
    again = ingest_file(actor, clean, format="ndjson", source="x")
    assert again.same_as == first and (again.added, again.duplicates) == (0, 10)
    assert "already imported" in again.notices[0]
    # A file with rejects is read again: what was refused may land now.
    with_bad = ndjson(
        tmp_path / "j.ndjson",
        [
            event("library_card", "LC0001", "2026-07-01T08:00:00+08:00"),
            event("library_card", "LC7777", "2026-07-02T08:00:00+08:00"),
        ],
    )
    refused = ingest_file(actor, with_bad, format="ndjson", source="x", unknown="reject")
    assert refused.rejected == 1
    make_patron(identifiers=[{"kind": "library_card", "value": "LC7777"}])
    retried = ingest_file(actor, with_bad, format="ndjson", source="x", unknown="reject")
    assert retried.same_as is None and (retried.added, retried.rejected) == (1, 0)
