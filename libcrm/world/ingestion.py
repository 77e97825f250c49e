"""Feeding a written world to libcrm the way a library feeds its own exports: the MARC file
through ``import_marc``, every other file through the ingestion pipeline
(:func:`libcrm.ingest.services.ingest_file`: connector, validation, identity resolution,
pseudonymisation, the event store), as the world's manifest says."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import OutputWrapper

from libcrm.catalog.services import import_marc
from libcrm.ingest.models import RunStatus
from libcrm.ingest.services import ingest_file as pipeline_ingest_file
from libcrm.privacy.actors import Actor
from libcrm.world.sources import MARC_FILE, SourceFile, WrittenWorld
from libcrm.world.stages import StageTimes
from libcrm.world.truth import CATALOGUE_SOURCE
from libcrm.world.world import TIME_ZONE


class IngestionFailed(RuntimeError):
    """The pipeline gave up on a file (its run is recorded as failed, with the reason)."""


@dataclass
class FileOutcome:
    name: str
    source: str
    expected: int
    received: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    provisional: int = 0  # patrons created for identifiers no record held (should be none)
    seconds: float = 0.0
    run_id: str = ""


@dataclass
class IngestSummary:
    files: list[FileOutcome] = field(default_factory=list)
    catalogue_created: int = 0
    catalogue_rejected: int = 0

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def provisional(self) -> int:
        return sum(f.provisional for f in self.files)

    def lines(self) -> list[str]:
        return [
            f"  {f.name:<22} {f.added:>9,} events added of {f.expected:,} expected, "
            f"{f.rejected:,} rejected, {f.seconds:5.1f} s"
            for f in self.files
        ]


def pipeline_options(spec: SourceFile) -> dict[str, Any]:
    """The connector options of a manifest entry, as Python values (the gate mapping's
    places become (branch, space) pairs)."""
    options: dict[str, Any] = dict(spec.options)
    if "gates" in options:
        options["gates"] = {gate: tuple(place) for gate, place in options["gates"].items()}
    return options


def ingest_world(
    written: WrittenWorld, actor: Actor, times: StageTimes, out: OutputWrapper | None = None
) -> IngestSummary:
    summary = IngestSummary()
    with times.stage("import catalogue (MARC, import_marc)"):
        report = import_marc(actor, written.folder / MARC_FILE, source=CATALOGUE_SOURCE)
    summary.catalogue_created = report.created + report.updated + report.unchanged
    summary.catalogue_rejected = report.rejected
    for spec in written.files:
        began = time.perf_counter()
        outcome = ingest_file(written.folder / spec.name, spec, actor)
        outcome.seconds = time.perf_counter() - began
        times.add(f"ingest {spec.name}", outcome.seconds)
        summary.files.append(outcome)
        if out is not None:
            out.write(
                f"  ingested {spec.name}: {outcome.added:,} events"
                + (f", {outcome.rejected:,} rejected" if outcome.rejected else "")
            )
    return summary


def ingest_file(path: Path, spec: SourceFile, actor: Actor) -> FileOutcome:
    """One file through the ingestion pipeline, as the manifest entry ``spec`` describes it."""
    run = pipeline_ingest_file(
        actor,
        path,
        format=spec.format,
        source=spec.source,
        tz=TIME_ZONE,
        **pipeline_options(spec),
    )
    if run.status == RunStatus.FAILED:
        raise IngestionFailed(f"{spec.name}: {run.error}")
    return FileOutcome(
        name=spec.name,
        source=spec.source,
        expected=spec.expected_events,
        received=run.received,
        added=run.added,
        duplicates=run.duplicates,
        rejected=run.rejected,
        provisional=run.provisional,
        run_id=str(run.pk),
    )
