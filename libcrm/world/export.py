"""Writing a world to its folder: the source files, the ground truth and ``manifest.json``, which
says how to ingest each file and how many events and rejects to expect from it. Pure: no
Django (the folder comes from the caller, e.g. ``LIBCRM_DATA_DIR/world/<seed>/``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from libcrm.world.groups import GROUP_CODES
from libcrm.world.sources import SourceWriter, WrittenWorld
from libcrm.world.truth import write_held_out, write_people_truth
from libcrm.world.world import Behaviour, People, build_behaviour

MANIFEST = "manifest.json"
GENERATOR_VERSION = 1


@dataclass
class BuiltWorld:
    """What :func:`build_and_write` hands back across a process boundary: the written files,
    the world's sizes and where the time went (the tables themselves stay behind)."""

    written: WrittenWorld
    facts: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def build_and_write(people: People, folder: Path) -> BuiltWorld:
    """Draw the behaviour and write the folder: the half of ``libcrm demo`` that needs no
    database, run in a process of its own while the registry is being filled."""
    began = time.perf_counter()
    behaviour = build_behaviour(people)
    drawn = time.perf_counter()
    written = write_world(people, behaviour, folder)
    done = time.perf_counter()
    return BuiltWorld(
        written,
        describe(people, behaviour, int(pc.sum(behaviour.held_out).as_py() or 0)),
        {"draw a year of behaviour": drawn - began, "write files and ground truth": done - drawn},
    )


def write_world(people: People, behaviour: Behaviour, folder: Path) -> WrittenWorld:
    """Write everything but the patron keys (which only the registry knows; see
    :func:`libcrm.world.truth.write_people_truth`)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = SourceWriter(people, behaviour, folder).write_all()
    write_people_truth(people, folder)
    held = write_held_out(people, behaviour, folder)
    (folder / MANIFEST).write_text(
        json.dumps(written.manifest(describe(people, behaviour, held)), ensure_ascii=False,
                   indent=2, default=str) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    return written


def describe(people: People, behaviour: Behaviour, held_out: int) -> dict[str, Any]:
    """The world's knobs and sizes, for the manifest and the command's summary."""
    config = people.config
    groups = {code: people.groups.count(code) for code in GROUP_CODES}
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "patron_records": len(people.records),
        "people": len(people.library.patrons),
        "people_with_duplicates": len({d.person for d in people.duplicates}),
        "duplicate_records": len(people.duplicates),
        "households": len(people.library.households),
        "days": config.days,
        "first_day": config.first_day.isoformat(),
        "until": config.until.isoformat(),
        "end": config.end.isoformat() if config.end else None,
        "catalogue_items": len(behaviour.catalogue.items),
        "programmes": len(behaviour.programmes),
        "visits": behaviour.visits.num_rows,
        "loans": behaviour.loans.num_rows,
        "held_out_loans": held_out,
        "held_out_share": round(held_out / max(behaviour.loans.num_rows, 1), 4),
        "groups": groups,
        "bad_lines": config.bad_lines,
        "loans_returned": int(pc.sum(behaviour.loans.column("t_return").is_valid()).as_py() or 0),
    }


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
