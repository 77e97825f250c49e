"""How good the links are: precision, recall and F1 against the synthetic world's ground truth,
beside an exact-match baseline measured in the same run.

A *link* is a pair of patron records the engine scores at or above the review threshold. The
truth is every pair of records of one person (``ground_truth/duplicate_pairs.parquet``, see
docs/world.md). The **exact-match baseline** is what a registry without a linker finds: two
records with the same normalised name and the same birth year, or sharing a phone number or
e-mail address.

The functions here are pure (no Django) so the benchmark can use them on generated records;
:func:`measure_installation` (used by ``libcrm linkage-quality``) reads the registry through
:mod:`libcrm.linkage.records` and maps patrons to the world's records by ``patron_key``.
"""

from __future__ import annotations

import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from libcrm.linkage.engine import LinkResult, LinkSettings, link_records
from libcrm.linkage.engine.prepare import RAW_SCHEMA

#: Identifier kinds one person holds one of (see the ``person_ids`` comparison).
PERSON_ID_KINDS = ("campus_id", "national_id")

Pair = tuple[int, int]


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of a set of links against the true pairs."""

    links: int
    true_pairs: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.links if self.links else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "links": self.links,
            "true_pairs": self.true_pairs,
            "true_positives": self.true_positives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def _ordered(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


def score(links: Iterable[Pair], truth: set[Pair]) -> Scores:
    found = {_ordered(a, b) for a, b in links if a != b}
    return Scores(len(found), len(truth), len(found & truth))


def _name_key(name: str | None) -> str:
    if not name:
        return ""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def exact_match_pairs(records: pa.Table) -> set[Pair]:
    """The baseline: same normalised name and birth year, or a shared phone or e-mail."""
    blocks: dict[tuple, list[int]] = defaultdict(list)
    ids = records.column("id").to_pylist()
    names = records.column("name").to_pylist()
    years = records.column("birth_year").to_pylist()
    phones = records.column("phones").to_pylist()
    emails = records.column("emails").to_pylist()
    for i, record_id in enumerate(ids):
        key = _name_key(names[i])
        if key and years[i] is not None:
            blocks[("name", key, years[i])].append(record_id)
        for phone in phones[i] or ():
            blocks[("phone", phone)].append(record_id)
        for email in emails[i] or ():
            blocks[("email", email.lower())].append(record_id)
    pairs: set[Pair] = set()
    for members in blocks.values():
        unique = sorted(set(members))
        for n, a in enumerate(unique):
            for b in unique[n + 1 :]:
                pairs.add((a, b))
    return pairs


def link_pairs(result: LinkResult, threshold: float) -> set[Pair]:
    keep = [p >= threshold for p in result.pairs.column("match_probability").to_pylist()]
    kept = result.pairs.filter(pa.array(keep, pa.bool_()))
    return set(
        zip(kept.column("left_id").to_pylist(), kept.column("right_id").to_pylist(), strict=True)
    )


# --- the world's records without Django ---------------------------------------------------


def world_raw_records(people: Any, behaviour: Any | None = None) -> pa.Table:
    """The engine's input for a generated world (``libcrm.world.world.People``), one row per
    record, ``id`` = the record number; with ``behaviour`` the items each record used (loans,
    holds, reading, programmes). What :func:`libcrm.linkage.records.patron_records` would read
    from the registry after ``libcrm demo``, without registering anything."""
    from libcrm.patrons.identifiers import InvalidIdentifier, normalise

    items: dict[int, set[str]] = defaultdict(set)
    if behaviour is not None:
        numbers = [str(i.itemnumber) for i in behaviour.catalogue.items]
        for record, item in zip(
            behaviour.loans.column("record").to_pylist(),
            behaviour.loans.column("item").to_pylist(),
            strict=True,
        ):
            items[record].add(numbers[item])
        for record, item in zip(
            behaviour.events.column("record").to_pylist(),
            behaviour.events.column("item_id").to_pylist(),
            strict=True,
        ):
            if item and record is not None and record >= 0:
                items[record].add(str(item))
    rows: dict[str, list] = {name: [] for name in RAW_SCHEMA.names}
    for number, spec in enumerate(people.records):
        phones, emails = [], []
        kinds = sorted({i.kind for i in spec.identifiers if i.kind in PERSON_ID_KINDS})
        for identifier in spec.identifiers:
            if identifier.kind not in ("phone", "email"):
                continue
            try:
                value = normalise(identifier.kind, identifier.value)
            except InvalidIdentifier:
                continue
            (phones if identifier.kind == "phone" else emails).append(value)
        rows["id"].append(number)
        rows["name"].append(spec.name)
        rows["birth_year"].append(spec.birth_year)
        rows["gender"].append(spec.gender)
        rows["category"].append(spec.category)
        rows["department"].append(spec.department or None)
        rows["home_branch"].append(spec.home_branch or None)
        rows["phones"].append(phones)
        rows["emails"].append(emails)
        rows["items"].append(sorted(items.get(number, ())))
        rows["unique_kinds"].append(kinds)
    return pa.table(rows, schema=RAW_SCHEMA)


def world_truth(people: Any) -> set[Pair]:
    """Every pair of records of one person (what ``duplicate_pairs.parquet`` holds)."""
    by_person: dict[int, list[int]] = defaultdict(list)
    for record, person in enumerate(people.record_person):
        by_person[person].append(record)
    return {
        (a, b)
        for members in by_person.values()
        for n, a in enumerate(members)
        for b in members[n + 1 :]
    }


# --- one measurement --------------------------------------------------------------------


@dataclass
class QualityReport:
    records: int
    threshold: float
    engine: Scores
    baseline: Scores
    by_threshold: dict[float, Scores] = field(default_factory=dict)
    engine_seconds: float = 0.0
    baseline_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    missed: list[Pair] = field(default_factory=list)
    wrong: list[Pair] = field(default_factory=list)

    def meets(self, f1: float = 0.95, precision: float = 0.99) -> bool:
        return self.engine.f1 >= f1 and self.engine.precision >= precision


THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)


def measure(
    records: pa.Table, truth: set[Pair], settings: LinkSettings | None = None
) -> QualityReport:
    """Runs the engine and the baseline on ``records`` and scores both against ``truth``
    (pairs of ``records.id`` values)."""
    settings = settings or LinkSettings()
    started = time.perf_counter()
    baseline = exact_match_pairs(records)
    baseline_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = link_records(records, settings)
    engine_seconds = time.perf_counter() - started
    links = link_pairs(result, settings.review_threshold)
    report = QualityReport(
        records=records.num_rows,
        threshold=settings.review_threshold,
        engine=score(links, truth),
        baseline=score(baseline, truth),
        engine_seconds=engine_seconds,
        baseline_seconds=baseline_seconds,
        timings=result.timings,
        missed=sorted(truth - links),
        wrong=sorted(links - truth),
    )
    for threshold in THRESHOLDS:
        if threshold >= settings.review_threshold:
            report.by_threshold[threshold] = score(link_pairs(result, threshold), truth)
    return report


def format_report(report: QualityReport) -> list[str]:
    """Plain lines for a terminal: engine beside baseline, and the scores by threshold."""
    e, b = report.engine, report.baseline
    lines = [
        f"records {report.records:,} · true pairs {e.true_pairs:,} · threshold {report.threshold}",
        f"{'':22}{'links':>8}{'precision':>11}{'recall':>9}{'F1':>8}{'seconds':>9}",
        f"{'probabilistic (Splink)':22}{e.links:>8,}{e.precision:>11.4f}{e.recall:>9.4f}"
        f"{e.f1:>8.4f}{report.engine_seconds:>9.2f}",
        f"{'exact-match baseline':22}{b.links:>8,}{b.precision:>11.4f}{b.recall:>9.4f}"
        f"{b.f1:>8.4f}{report.baseline_seconds:>9.2f}",
        "by threshold: "
        + " · ".join(
            f"≥{t}: P {s.precision:.4f} R {s.recall:.4f} F1 {s.f1:.4f}"
            for t, s in report.by_threshold.items()
        ),
        "engine phases: " + " · ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()),
    ]
    return lines


# --- an installation built by ``libcrm demo`` --------------------------------------------


def truth_by_patron(ground_truth: Path, key_to_id: dict[str, int]) -> set[Pair]:
    """The world's true pairs as pairs of Patron primary keys (through ``patron_key``)."""
    records = pq.read_table(ground_truth / "records.parquet", columns=["record", "patron_key"])
    record_to_id = {
        record: key_to_id[key]
        for record, key in zip(
            records.column("record").to_pylist(),
            records.column("patron_key").to_pylist(),
            strict=True,
        )
        if key in key_to_id
    }
    pairs = pq.read_table(ground_truth / "duplicate_pairs.parquet")
    truth: set[Pair] = set()
    for a, b in zip(
        pairs.column("record_a").to_pylist(), pairs.column("record_b").to_pylist(), strict=True
    ):
        if a in record_to_id and b in record_to_id:
            truth.add(_ordered(record_to_id[a], record_to_id[b]))
    return truth


def measure_installation(ground_truth: Path, settings: LinkSettings | None = None) -> QualityReport:
    """Links the registry's patrons and scores the links against a world's ground truth.

    Reads every linkable patron's personal data: the caller audits the access (LINK_RUN)."""
    from libcrm.linkage.records import patron_records
    from libcrm.patrons.models import Patron

    records = patron_records()
    key_to_id = dict(Patron.objects.values_list("patron_key", "id"))
    truth = truth_by_patron(ground_truth, key_to_id)
    return measure(records, truth, settings)
