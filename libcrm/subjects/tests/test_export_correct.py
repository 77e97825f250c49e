"""Export: a ZIP with the patron's record (identifiers in full), consents, the access log and
every event — under merged keys too — as JSON lines and Parquet; audited with counts.
Correction: the patron's own request, audited as such."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest

from libcrm.events.services import merge_patron_events
from libcrm.patrons.errors import PatronError
from libcrm.patrons.services import reveal_identifier
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.subjects.services import correct_patron, export_subject

pytestmark = pytest.mark.django_db


def _open(archive: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(archive))


def test_export_holds_everything_about_the_patron(
    make_patron: Callable[..., Any], add_events: Callable[..., int], actor: Actor
) -> None:
    patron = make_patron(
        name="导出 测试",
        address="1 Library Road",
        identifiers=[
            {"kind": "library_card", "value": "EX000001"},
            {"kind": "phone", "value": "+8613912345678"},
        ],
    )
    old = make_patron()
    reveal_identifier(actor, patron.identifiers.first())
    add_events(patron.patron_key, [("loan", 10, "A"), ("return", 5, "A")])
    add_events(old.patron_key, [("gate_in", 40, None)])
    merge_patron_events(old.patron_key, patron.patron_key)

    export = export_subject(actor, patron)

    archive = _open(export.archive)
    assert sorted(archive.namelist()) == [
        "README.txt",
        "events.jsonl",
        "events.parquet",
        "patron.json",
    ]
    data = json.loads(archive.read("patron.json"))
    assert data["patron"]["name"] == "导出 测试"
    assert data["patron"]["patron_key"] == patron.patron_key
    assert {i["value"] for i in data["identifiers"]} == {"EX000001", "+8613912345678"}
    assert "reveal_identifier" in {e["action"] for e in data["access_log"]}
    lines = [json.loads(x) for x in archive.read("events.jsonl").decode().splitlines()]
    assert [e["type"] for e in lines] == ["return", "loan", "gate_in"]  # newest first
    assert {e["patron_key"] for e in lines} == {patron.patron_key}
    assert lines[0]["attrs"] == {"desk": "main"}
    table = pq.read_table(io.BytesIO(archive.read("events.parquet")))
    assert table.num_rows == 3
    readme = archive.read("README.txt").decode()
    assert "events.parquet" in readme and "个人数据导出" in readme
    record = AuditEvent.objects.get(action=AuditAction.EXPORT_SUBJECT)
    assert record.patron_id == patron.pk
    assert record.detail["events"] == 3 and record.detail["identifiers"] == 2
    assert "导出" not in json.dumps(record.detail)


def test_consents_are_exported(make_patron: Callable[..., Any], actor: Actor) -> None:
    consent = pytest.importorskip("libcrm.consent.services")
    from libcrm.consent.selectors import current_wording

    patron = make_patron()
    if current_wording("loan_history") is None:
        pytest.skip("no published consent wording in this build")
    consent.set_consent(actor, patron, "loan_history", True, via="staff")
    data = json.loads(_open(export_subject(actor, patron).archive).read("patron.json"))
    assert [(c["purpose"], c["granted"]) for c in data["consents"]] == [("loan_history", True)]
    assert data["consents"][0]["wording_en"]


def test_correction_is_audited_as_the_patrons_request(
    make_patron: Callable[..., Any], actor: Actor
) -> None:
    patron = make_patron(name="Wrong Name")
    changed = correct_patron(actor, patron, {"name": "Right Name", "category": "undergraduate"})
    assert changed == ["name"]
    patron.refresh_from_db()
    assert patron.name == "Right Name"
    record = AuditEvent.objects.get(action=AuditAction.CORRECT_PATRON)
    assert record.detail == {"fields": ["name"]}


def test_a_bad_correction_changes_nothing(make_patron: Callable[..., Any], actor: Actor) -> None:
    patron = make_patron(name="Kept Name")
    with pytest.raises(PatronError):
        correct_patron(actor, patron, {"name": "", "birth_year": 1200})
    patron.refresh_from_db()
    assert patron.name == "Kept Name"
    assert not AuditEvent.objects.filter(action=AuditAction.CORRECT_PATRON).exists()


def test_a_merged_record_is_part_of_the_export(
    make_patron: Callable[..., Any], add_events: Callable[..., int], actor: Actor
) -> None:
    from libcrm.linkage.services import merge_patrons
    from libcrm.patrons.services import record_patron_viewed

    survivor, merged = make_patron(), make_patron()
    record_patron_viewed(actor, merged)
    add_events(merged.patron_key, [("gate_in", 3, None)])
    merge_patrons(actor, survivor, merged, reason="same person")
    data = json.loads(_open(export_subject(actor, survivor).archive).read("patron.json"))
    assert data["linkage"]["merges"][0]["this_record"] == "survivor"
    viewed = [e for e in data["access_log"] if e["action"] == "view_patron"]
    assert viewed  # the view of the merged record is the same person's access log
    lines = _open(export_subject(actor, survivor).archive).read("events.jsonl").splitlines()
    assert len(lines) == 1
