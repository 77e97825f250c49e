"""``libcrm demo`` end to end on a small world: files written, ingested through the pipeline,
the store holding exactly the events the files hold, and the ground truth agreeing with the
registry."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from libcrm.catalog.models import Item
from libcrm.events.services import event_store
from libcrm.patrons.models import Patron, PatronStatus
from libcrm.patrons.selectors import find_patron_by_identifier
from libcrm.world import truth
from libcrm.world.export import read_manifest

pytestmark = pytest.mark.django_db

PATRONS, DAYS, SEED, UNTIL = 200, 60, 5, date(2026, 1, 20)


@pytest.fixture
def world(tmp_path: Path, settings: Any) -> tuple[Path, str]:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    out = StringIO()
    call_command(
        "demo",
        patrons=PATRONS,
        days=DAYS,
        seed=SEED,
        until=UNTIL,
        out=tmp_path / "world",
        stdout=out,
    )
    return tmp_path / "world", out.getvalue()


def test_a_small_world_loads_end_to_end(world: tuple[Path, str]) -> None:
    folder, output = world
    manifest = read_manifest(folder)
    assert Patron.objects.count() == PATRONS
    assert not Patron.objects.filter(status=PatronStatus.PROVISIONAL).exists()
    assert Item.objects.count() == manifest["catalogue"]["records"] - 1  # one broken on purpose
    overview = event_store().overview(tz="Asia/Shanghai")
    assert overview.total == manifest["expected_events"] > 0
    expected_by_source = {f["source"]: f["expected_events"] for f in manifest["files"]}
    assert {s: n for s, n in overview.by_source.items() if n} == {
        s: n for s, n in expected_by_source.items() if n
    }
    assert "gate_in" in overview.by_type and "loan" in overview.by_type
    assert f"Events: {manifest['expected_events']:,} in the store" in output
    rejected = sum(len(f["bad_lines"]) for f in manifest["files"])
    assert f"{rejected:,} rows rejected" in output
    assert "Time by stage" in output and "ingest gates.csv" in output


def test_every_event_belongs_to_a_registered_patron(world: tuple[Path, str]) -> None:
    keys = set(Patron.objects.values_list("patron_key", flat=True))
    stored = event_store().relation().aggregate("patron_key").fetchall()
    assert {row[0] for row in stored} <= keys


def test_ground_truth_agrees_with_the_registry(world: tuple[Path, str]) -> None:
    folder, _ = world
    records = pq.read_table(folder / truth.FOLDER / truth.RECORDS).to_pylist()
    assert len(records) == PATRONS
    for record in records:
        patron = find_patron_by_identifier("library_card", record["library_card"])
        assert patron is not None and patron.patron_key == record["patron_key"]
    persons = pq.read_table(folder / truth.FOLDER / truth.PERSONS)
    clusters = [r for r in persons.column("records").to_pylist() if len(r) > 1]
    assert clusters, "some people are registered more than once"
    keys = {r["record"]: r["patron_key"] for r in records}
    for cluster in clusters:
        assert len({keys[r] for r in cluster}) == len(cluster), "separate patrons, one person"
    held = pq.read_table(folder / truth.FOLDER / truth.HELD_OUT)
    item_ids = set(Item.objects.values_list("item_id", flat=True))
    assert set(held.column("item_id").to_pylist()) <= item_ids
    loans = event_store().relation().filter("type = 'loan'").arrow()
    if hasattr(loans, "read_all"):  # a record batch reader in newer DuckDB
        loans = loans.read_all()
    stored = set(
        zip(
            loans.column("patron_key").to_pylist(),
            loans.column("item_id").to_pylist(),
            pc.cast(loans.column("occurred_at"), "int64").to_pylist(),
            strict=True,
        )
    )
    kept = set(
        zip(
            [keys[r] for r in held.column("record").to_pylist()],
            [str(n) for n in held.column("itemnumber").to_pylist()],
            pc.cast(held.column("loaned_at"), "int64").to_pylist(),
            strict=True,
        )
    )
    assert kept and stored
    assert not kept & stored, "held-out loans are not in the store"
    some_loan = next(iter(stored))
    assert some_loan[1].isdigit(), "Koha events carry the itemnumber (the item's 001)"
