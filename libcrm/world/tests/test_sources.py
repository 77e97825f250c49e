"""The world's files are what the connectors read: every line parses, the events come out as
counted, and the only rejects are the deliberately broken lines the manifest lists. Also the
ground truth written beside them, and the MARC catalogue. No database needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from libcrm.catalog.errors import RecordProblem
from libcrm.catalog.isbn import normalise_isbn
from libcrm.catalog.marc import read_marc
from libcrm.events.connectors import EVENT_FORMATS
from libcrm.events.connectors.base import Chunk
from libcrm.events.schema import CHANNELS, EVENT_TYPES
from libcrm.patrons.identifiers import IdentifierKind
from libcrm.world import truth
from libcrm.world.export import read_manifest, write_world
from libcrm.world.sources import MARC_FILE, SourceFile, WrittenWorld
from libcrm.world.world import WorldConfig, build_behaviour, build_people

CONFIG = WorldConfig(until=date(2026, 1, 20), patrons=300, days=90, seed=5)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> WrittenWorld:
    people = build_people(CONFIG)
    return write_world(people, build_behaviour(people), tmp_path_factory.mktemp("world"))


def read_source(folder: Path, spec: SourceFile) -> Iterator[Chunk]:
    options: dict[str, Any] = dict(spec.options)
    if "gates" in options:
        options["gates"] = {gate: tuple(place) for gate, place in options["gates"].items()}
    reader = EVENT_FORMATS[spec.format]
    return reader(folder / spec.name, source=spec.source, tz="Asia/Shanghai", **options)


def test_every_file_parses_with_only_the_deliberate_rejects(written: WrittenWorld) -> None:
    assert {f.format for f in written.files} == {"gate", "koha", "ezproxy", "ndjson"}
    for spec in written.files:
        batches, rejects = [], []
        for chunk in read_source(written.folder, spec):
            if chunk.batch is not None:
                batches.append(chunk.batch)
            rejects += chunk.rejects
        rows = pa.Table.from_batches(batches) if batches else None
        received = rows.num_rows if rows is not None else 0
        # The pipeline, not the connector, refuses an unknown event type.
        for_pipeline = [b for b in spec.bad_lines if "(pipeline)" in b["reason"]]
        assert received == spec.expected_events + len(for_pipeline), spec.name
        expected = sorted(b["line"] for b in spec.bad_lines if b not in for_pipeline)
        assert sorted(r.line for r in rejects) == expected, (spec.name, [str(r) for r in rejects])
        if rows is None:
            continue
        kinds = set(pc.unique(rows.column("identifier_kind")).to_pylist())
        assert kinds <= {k.value for k in IdentifierKind}
        assert rows.column("identifier_value").null_count == 0
        types = set(pc.unique(rows.column("type")).to_pylist()) - {"teleport"}
        assert types <= EVENT_TYPES, spec.name
        assert set(pc.unique(rows.column("channel")).to_pylist()) <= CHANNELS
        ids = rows.column("event_id")
        assert len(pc.unique(ids)) == len(ids), f"{spec.name}: every event is its own"


def test_the_deliberate_rejects_can_be_left_out(tmp_path: Path) -> None:
    config = WorldConfig(until=date(2026, 1, 20), patrons=60, days=20, seed=5, bad_lines=False)
    people = build_people(config)
    clean = write_world(people, build_behaviour(people), tmp_path)
    for spec in clean.files:
        assert not spec.bad_lines
        for chunk in read_source(tmp_path, spec):
            assert not chunk.rejects, spec.name


def test_the_manifest_says_how_to_ingest_each_file(written: WrittenWorld) -> None:
    manifest = read_manifest(written.folder)
    assert manifest["seed"] == CONFIG.seed and manifest["patron_records"] == CONFIG.patrons
    assert manifest["expected_events"] == written.expected_events > 0
    names = {f["name"] for f in manifest["files"]}
    assert all((written.folder / name).is_file() for name in names)
    gates = json.loads((written.folder / "gates.json").read_text(encoding="utf-8"))
    assert gates["ZZ-24"] == ["24h", "自助阅览区"]


def test_the_catalogue_is_a_marc_file_of_chinese_and_english_items(written: WrittenWorld) -> None:
    items, problems = [], []
    with (written.folder / MARC_FILE).open("rb") as stream:
        for outcome in read_marc(stream, file_name=MARC_FILE):
            (problems if isinstance(outcome, RecordProblem) else items).append(outcome)
    assert len(items) == written.catalogue_records - written.catalogue_broken
    assert [p.field for p in problems] == ["leader"], "only the deliberately broken record"
    assert not [w for i in items for w in i.warnings]
    languages = {i.item.language for i in items}
    assert languages == {"chi", "eng"}
    assert {i.item.material_type.value for i in items} >= {"text", "audio", "video", "image"}
    assert all(normalise_isbn(i.item.isbns[0]) == i.item.isbns[0] for i in items)
    assert all(i.item.classification and i.item.classification.scheme == "clc" for i in items)
    tops = {i.item.classification.top for i in items}  # type: ignore[union-attr]
    assert {"T", "I", "R", "K"} <= tops


def test_ground_truth_lies_beside_the_files(written: WrittenWorld) -> None:
    folder = written.folder / truth.FOLDER
    records = pq.read_table(folder / truth.RECORDS)
    persons = pq.read_table(folder / truth.PERSONS)
    pairs = pq.read_table(folder / truth.PAIRS)
    held = pq.read_table(folder / truth.HELD_OUT)
    assert records.num_rows == CONFIG.patrons
    assert sum(len(r) for r in persons.column("records").to_pylist()) == records.num_rows
    person_of = dict(zip(records.column("record").to_pylist(),
                         records.column("person").to_pylist(), strict=True))  # fmt: skip
    for a, b in zip(pairs.column("record_a").to_pylist(), pairs.column("record_b").to_pylist(),
                    strict=True):  # fmt: skip
        assert person_of[a] == person_of[b]
    assert pairs.num_rows > 0 and held.num_rows > 0
    groups = json.loads((folder / truth.GROUPS_FILE).read_text(encoding="utf-8"))
    assert set(persons.column("group").to_pylist()) <= {g["code"] for g in groups}


def test_held_out_loans_are_not_in_the_circulation_file(written: WrittenWorld) -> None:
    held = pq.read_table(written.folder / truth.FOLDER / truth.HELD_OUT)
    koha = (written.folder / "koha_old_issues.csv").read_text(encoding="utf-8").splitlines()
    issued = {(cells[2], cells[3], cells[11]) for cells in (line.split(",") for line in koha[1:])}
    local = pc.cast(
        pc.cast(pc.assume_timezone(pc.cast(held.column("loaned_at"), pa.timestamp("us")), "UTC"),
                pa.timestamp("us", tz="Asia/Shanghai")),
        pa.timestamp("s", tz="Asia/Shanghai"),
    )  # fmt: skip
    for card, number, when in zip(held.column("library_card").to_pylist(),
                                  held.column("itemnumber").to_pylist(), local.to_pylist(),
                                  strict=True):  # fmt: skip
        assert (card, str(number), when.strftime("%Y-%m-%d %H:%M:%S")) not in issued
