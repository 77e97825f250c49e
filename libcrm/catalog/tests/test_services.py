"""Importing MARC files: items land, re-imports update instead of duplicating, broken records
are reported and never stop the good ones, batches commit whole."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError

from libcrm.catalog import schedules
from libcrm.catalog.errors import CatalogError
from libcrm.catalog.models import CatalogImport, Classification, Item
from libcrm.catalog.services import (
    REJECT_REPORT_HEADER,
    _BatchWriter,
    import_marc,
    load_classification_schedules,
)
from libcrm.catalog.tests import samples
from libcrm.privacy.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue_file(tmp_path: Path) -> Path:
    return samples.write(tmp_path, "catalogue.mrc", samples.iso2709(samples.good_records()))


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    """Two good records, a broken leader, a good one, and a truncated last record."""
    data = (
        samples.santi().as_marc()
        + samples.deep_learning().as_marc()
        + samples.broken_leader(samples.python_crash_course())
        + samples.erhu_audio().as_marc()
        + samples.unimarc_santi_2().as_marc()[:120]
    )
    return samples.write(tmp_path, "broken.mrc", data)


def test_import_creates_items_with_their_classification(actor: Actor, catalogue_file: Path) -> None:
    report = import_marc(actor, catalogue_file, source="koha")
    assert (report.read, report.created, report.updated, report.unchanged, report.rejected) == (
        7, 7, 0, 0, 0,
    )  # fmt: skip
    assert report.summary() == "read 7, created 7, updated 0, unchanged 0, rejected 0"

    santi = Item.objects.get(item_id="koha:CN000001")
    assert (santi.title, santi.authors, santi.isbns) == ("三体", ["刘慈欣"], [samples.SANTI_ISBN])
    assert (santi.source, santi.control_number, santi.record_format) == (
        "koha",
        "CN000001",
        "marc21",
    )
    assert (santi.classification_scheme, santi.classification_code) == ("clc", "I247.55")
    assert santi.classification_path == "/I/I2/I24/I247/I247.5/I247.55/"
    assert santi.top_class == "I"
    assert santi.classification is not None and santi.classification.code == "I247.5"
    assert santi.class_numbers == [{"scheme": "clc", "code": "I247.55"}]

    python = Item.objects.get(item_id="koha:US000003")
    assert (python.classification_scheme, python.top_class) == ("lcc", "Q")
    assert python.classification is not None and python.classification.code == "QA76.73"
    assert python.class_numbers == [
        {"scheme": "lcc", "code": "QA76.73"},
        {"scheme": "ddc", "code": "005.133"},
    ]
    poster = Item.objects.get(item_id="koha:CN000006")
    assert (poster.material_type, poster.classification_scheme, poster.classification) == (
        "image", "", None,
    )  # fmt: skip
    assert Item.objects.get(item_id="koha:012008000123").record_format == "unimarc"


def test_importing_the_same_file_again_changes_nothing(actor: Actor, catalogue_file: Path) -> None:
    import_marc(actor, catalogue_file)
    before = {i.item_id: i.updated_at for i in Item.objects.all()}
    report = import_marc(actor, catalogue_file)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 7)
    assert Item.objects.count() == 7
    assert {i.item_id: i.updated_at for i in Item.objects.all()} == before


def test_a_changed_record_updates_its_item_in_place(actor: Actor, tmp_path: Path) -> None:
    import_marc(actor, samples.write(tmp_path, "a.mrc", samples.iso2709([samples.santi()])))
    item = Item.objects.get()
    changed = samples.santi()
    changed["245"]["a"] = "三体（典藏版） /"
    changed["084"]["a"] = "I247.5"
    report = import_marc(actor, samples.write(tmp_path, "b.mrc", samples.iso2709([changed])))
    assert (report.created, report.updated) == (0, 1)
    item.refresh_from_db()
    assert (item.title, item.classification_code) == ("三体（典藏版）", "I247.5")
    assert item.updated_at > item.created_at
    assert Item.objects.count() == 1


def test_the_same_control_number_under_another_source_is_another_item(
    actor: Actor, catalogue_file: Path
) -> None:
    import_marc(actor, catalogue_file, source="main")
    import_marc(actor, catalogue_file, source="branch-2")
    assert Item.objects.count() == 14
    assert Item.objects.filter(control_number="CN000001").count() == 2


def test_a_record_repeated_in_one_file_is_one_item_and_the_later_wins(
    actor: Actor, tmp_path: Path
) -> None:
    later = samples.santi()
    later["245"]["a"] = "三体：地球往事"
    data = samples.iso2709([samples.santi(), samples.deep_learning(), later])
    report = import_marc(actor, samples.write(tmp_path, "twice.mrc", data), batch_size=10)
    assert Item.objects.count() == 2
    assert Item.objects.get(item_id="ils:CN000001").title == "三体：地球往事"
    assert (report.created, report.updated) == (2, 1)
    (warning,) = report.warnings
    assert (warning.record, warning.field) == (3, "001")
    assert "repeats item ils:CN000001 of record 1" in warning.reason


def test_broken_records_are_reported_and_the_good_ones_land(
    actor: Actor, broken_file: Path
) -> None:
    report = import_marc(actor, broken_file, batch_size=2)
    assert (report.read, report.created, report.rejected) == (5, 3, 2)
    assert sorted(Item.objects.values_list("control_number", flat=True)) == [
        "CN000001", "CN000002", "CN000005",
    ]  # fmt: skip
    leader, truncated = report.rejects
    offset = len(samples.santi().as_marc()) + len(samples.deep_learning().as_marc())
    assert (leader.file, leader.record, leader.offset, leader.field) == (
        str(broken_file), 3, offset, "leader",
    )  # fmt: skip
    assert leader.reason == "leader is broken: record length 'abcde' is not a number"
    assert (truncated.record, truncated.field) == (5, "record")
    assert truncated.reason.startswith("record is truncated: the file ends 120 bytes into")


def test_the_reject_report_is_a_csv_the_librarian_can_open(
    actor: Actor, broken_file: Path, tmp_path: Path
) -> None:
    report = import_marc(actor, broken_file)
    target = tmp_path / "rejects.csv"
    report.write_rejects(target)
    rows = list(csv.reader(target.open(encoding="utf-8-sig")))
    assert rows[0] == REJECT_REPORT_HEADER == ["file", "record", "offset", "field", "reason"]
    assert [r[1] for r in rows[1:]] == ["3", "5"]
    assert rows[1][3:] == ["leader", "leader is broken: record length 'abcde' is not a number"]


def test_each_import_is_recorded_with_its_counts_and_rejects(
    actor: Actor, broken_file: Path
) -> None:
    report = import_marc(actor, broken_file, source="koha")
    run = CatalogImport.objects.get(pk=report.import_id)
    assert (run.source, run.file_name, run.actor_label, run.via) == (
        "koha", str(broken_file), "test-librarian", "cli",
    )  # fmt: skip
    assert (run.records_read, run.created, run.updated, run.rejected) == (5, 3, 0, 2)
    assert run.finished_at is not None
    assert run.rejects[0][1:4] == ["3", str(report.rejects[0].offset), "leader"]


def test_marcxml_streams_import_too(actor: Actor) -> None:
    stream = io.BytesIO(samples.marcxml(samples.good_records()))
    report = import_marc(actor, stream, source="xml")
    assert report.created == 7 and report.file_name == "<stream>"
    assert Item.objects.filter(source="xml", material_type="video").count() == 1


def test_a_batch_the_database_refuses_is_retried_record_by_record(
    actor: Actor, catalogue_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One record the database will not store must not take its batch-mates with it, and must
    leave nothing of itself behind."""
    original = _BatchWriter._write

    def refuse_the_video(self: _BatchWriter, batch: dict[str, Any]) -> list[int]:
        result = original(self, batch)  # written, then rolled back with the transaction
        if "ils:CN000004" in batch:
            raise DatabaseError("value too long for type character varying(12)")
        return result

    monkeypatch.setattr(_BatchWriter, "_write", refuse_the_video)
    report = import_marc(actor, catalogue_file, batch_size=3)
    assert (report.created, report.rejected) == (6, 1)
    assert not Item.objects.filter(item_id="ils:CN000004").exists()
    (reject,) = report.rejects
    assert (reject.record, reject.field) == (4, "record")
    assert "the database refused the record: value too long" in reject.reason


def test_bad_arguments_are_refused_before_anything_is_written(
    actor: Actor, tmp_path: Path, catalogue_file: Path
) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        import_marc(actor, tmp_path / "missing.mrc")
    with pytest.raises(CatalogError, match="source must be"):
        import_marc(actor, catalogue_file, source="Main Library")
    with pytest.raises(CatalogError, match="format must be one of"):
        import_marc(actor, catalogue_file, format="marcxml")
    with pytest.raises(CatalogError, match="encoding must be one of"):
        import_marc(actor, catalogue_file, encoding="big5")
    assert not Item.objects.exists()
    assert not CatalogImport.objects.exists()


def test_progress_is_reported_after_each_batch(actor: Actor, catalogue_file: Path) -> None:
    seen: list[int] = []
    import_marc(actor, catalogue_file, batch_size=3, progress=seen.append)
    assert seen == [3, 6, 7]


# --- Classification schedules ------------------------------------------------------------------


def test_the_migration_loaded_every_schedule_as_a_hierarchy() -> None:
    total = sum(len(schedules.entries(s)) for s in ("clc", "lcc", "ddc"))
    assert Classification.objects.count() == total
    tp = Classification.objects.get(scheme="clc", code="TP")
    assert (tp.label_zh, tp.parent.code, tp.tree_path, tp.depth) == (  # type: ignore[union-attr]
        "自动化技术、计算机技术", "T", "/T/TP/", 2,
    )  # fmt: skip
    assert Classification.objects.get(scheme="clc", code="A49").parent.code == "A4"  # type: ignore[union-attr]
    assert Classification.objects.get(scheme="clc", code="B84").parent.code == "B"  # type: ignore[union-attr]
    assert Classification.objects.get(scheme="lcc", code="QA").parent.code == "Q"  # type: ignore[union-attr]
    assert Classification.objects.get(scheme="ddc", code="02").parent.code == "0"  # type: ignore[union-attr]
    assert Classification.objects.filter(scheme="clc", parent__isnull=True).count() == 22


def test_loading_the_schedules_again_is_idempotent_and_applies_new_labels() -> None:
    assert load_classification_schedules() == 0
    renamed = schedules.ScheduleEntry("clc", "TP", "自动化技术、计算机技术（新）", "Computing")
    assert load_classification_schedules(entries=[renamed]) == 1
    tp = Classification.objects.get(scheme="clc", code="TP")
    assert (tp.label_zh, tp.label_en, tp.parent.code) == (  # type: ignore[union-attr]
        "自动化技术、计算机技术（新）", "Computing", "T",
    )  # fmt: skip
