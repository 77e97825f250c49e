"""Probabilistic identity linkage (M2): which patron records are one person.

A Fellegi–Sunter model built with Splink 5: every blocked pair of records is compared on the
name (汉字, pinyin), birth year, phone, e-mail, department, category, the catalogue items both
used and whether both hold a campus or national ID of their own (then they are two people);
each comparison falls into a level whose match weight (log₂ m/u) is learnt from the library's
own records without labels. DuckDB runs it by default; the very same model definition
runs on Spark (local mode) when asked. See docs/linkage.md.

Pure: no Django. The caller reads the records (``libcrm.linkage.records``), audits the run
(``LINK_RUN``: it reads everyone's personal data) and decides what to do with the pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from libcrm.linkage.engine.prepare import RAW_SCHEMA, prepare_records
from libcrm.linkage.engine.run import (
    PAIR_SCHEMA,
    TooManyPairs,
    count_blocked_pairs,
    empty_pairs,
    train_and_predict,
)

DEFAULT_MAX_PAIRS = 20_000_000


@dataclass(frozen=True)
class LinkSettings:
    """How a run links: the thresholds, the backend and the safety bound on comparisons."""

    review_threshold: float = 0.5  # match probability from which a pair is proposed for review
    auto_merge_threshold: float | None = None  # None = auto-merge off (the default)
    backend: Literal["duckdb", "spark"] = "duckdb"
    max_pairs: int = DEFAULT_MAX_PAIRS  # refuse a run whose blocking would compare more pairs

    def __post_init__(self) -> None:
        if not 0 < self.review_threshold < 1:
            raise ValueError("review_threshold must be between 0 and 1 (exclusive)")
        if self.auto_merge_threshold is not None and not (
            self.review_threshold <= self.auto_merge_threshold <= 1
        ):
            raise ValueError("auto_merge_threshold must lie between review_threshold and 1")
        if self.backend not in ("duckdb", "spark"):
            raise ValueError("backend must be 'duckdb' or 'spark'")
        if self.max_pairs < 1:
            raise ValueError("max_pairs must be positive")


@dataclass
class LinkResult:
    """The candidate pairs (probability ≥ the review threshold) and the trained model.

    ``pairs`` columns: ``left_id`` < ``right_id`` (Patron primary keys), ``match_probability``,
    ``match_weight`` and ``evidence`` (JSON list, one entry per comparison: ``comparison``,
    ``level``, ``label_en``, ``label_zh``, ``agrees``, ``weight`` — the level's log₂ Bayes
    factor, term-frequency adjustment included).
    """

    pairs: pa.Table
    model: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    records: int = 0
    blocked_pairs_bound: int = 0


def link_records(records: pa.Table, settings: LinkSettings) -> LinkResult:
    """Links ``records`` (columns of :data:`RAW_SCHEMA`; ``id`` the Patron primary key).

    Raises :class:`ValueError` for a malformed table and :class:`TooManyPairs` when the blocking
    rules would compare more than ``settings.max_pairs`` pairs (nothing is trained then).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    prepared = prepare_records(records)
    timings["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    counts = count_blocked_pairs(prepared)
    bound = sum(counts.values())
    timings["block"] = time.perf_counter() - started
    if bound > settings.max_pairs:
        detail = ", ".join(f"{rule}: {n:,}" for rule, n in counts.items())
        raise TooManyPairs(
            f"blocking would compare up to {bound:,} pairs, above max_pairs "
            f"{settings.max_pairs:,} ({detail}); raise max_pairs or link fewer records"
        )
    if prepared.num_rows < 3:
        timings.update(train=0.0, predict=0.0)
        return LinkResult(empty_pairs(), {"prior": None, "comparisons": []}, timings,
                          prepared.num_rows, bound)  # fmt: skip
    pairs, model, phase = train_and_predict(prepared, settings.backend, settings.review_threshold)
    timings.update(phase)
    model["blocked_pairs_bound"] = bound
    return LinkResult(pairs, model, timings, prepared.num_rows, bound)


__all__ = [
    "PAIR_SCHEMA",
    "RAW_SCHEMA",
    "LinkResult",
    "LinkSettings",
    "TooManyPairs",
    "link_records",
]
