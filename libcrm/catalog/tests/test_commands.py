"""``libcrm import-marc``: a summary on the terminal, a reject report on disk, no tracebacks."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from libcrm.catalog.models import Item
from libcrm.catalog.tests import samples

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_marc", *args, stdout=out)
    return out.getvalue()


def test_import_prints_a_summary(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "books.xml", samples.marcxml(samples.good_records()))
    output = run(str(path), "--source", "koha")
    assert f"{path}: read 7, created 7, updated 0, unchanged 0, rejected 0" in output
    assert Item.objects.filter(source="koha").count() == 7
    assert "updated 0, unchanged 7" in run(str(path), "--source", "koha")


def test_rejects_are_listed_and_written_to_the_csv(tmp_path: Path) -> None:
    data = samples.santi().as_marc() + samples.broken_leader(samples.deep_learning())
    data += samples.erhu_audio().as_marc()[:50]
    path = samples.write(tmp_path, "broken.mrc", data)
    rejects = tmp_path / "reports" / "rejects.csv"
    rejects.parent.mkdir()
    output = run(str(path), "--rejects", str(rejects))
    assert "read 3, created 1, updated 0, unchanged 0, rejected 2" in output
    offset = len(samples.santi().as_marc())
    assert (
        f"record 2 (offset {offset}): leader is broken: record length 'abcde' is not a number"
        in output
    )
    assert f"Reject report written to {rejects}." in output
    rows = list(csv.reader(rejects.open(encoding="utf-8-sig")))
    assert rows[0] == ["file", "record", "offset", "field", "reason"]
    assert rows[1] == [
        str(path), "2", str(offset), "leader",
        "leader is broken: record length 'abcde' is not a number",
    ]  # fmt: skip
    assert rows[2][1] == "3" and rows[2][3] == "record"


def test_unimarc_gbk_needs_the_encoding_option(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "gbk.iso", samples.gbk_bytes(samples.unimarc_santi_2()))
    assert "looks like GBK/GB18030" in run(str(path))
    output = run(str(path), "--encoding", "gb18030", "--format", "unimarc")
    assert "created 1" in output
    assert Item.objects.get().title == "三体. Ⅱ. 黑暗森林"


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"cannot read .*missing\.mrc"):
        run(str(tmp_path / "missing.mrc"))
    path = samples.write(tmp_path, "ok.mrc", samples.santi().as_marc())
    with pytest.raises(CommandError, match="source must be"):
        run(str(path), "--source", "Not OK")
