"""Benchmark: probabilistic identity linkage of 100,000 patron records, end to end.

The records come from the synthetic world's pure generators (people plus their second and
third registrations, ``--duplicates`` of the people; no Django, no events), as the engine's
input table. Measured in one run:

* the engine (prepare, block, train unsupervised, predict) on DuckDB: wall time and the
  process's peak RSS, beside the exact-match baseline (same name and birth year, or a shared
  phone/e-mail) timed on the same records, and the naive all-pairs count the blocking avoids;
* precision, recall and F1 of both against the world's ground truth;
* the Spark backend (local mode) on a smaller input (``--spark-records``) beside DuckDB on the
  same input: are the links identical, and by how much do the probabilities differ.

    .venv/bin/python -m benchmarks.linkage --records 100000 --spark-records 5000
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from datetime import date

from libcrm.linkage.engine import LinkSettings, link_records
from libcrm.linkage.quality import (
    exact_match_pairs,
    link_pairs,
    score,
    world_raw_records,
    world_truth,
)
from libcrm.world.world import WorldConfig, build_people


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(records: int, duplicates: float, seed: int):
    people = build_people(
        WorldConfig(until=date(2026, 6, 30), patrons=records, seed=seed, duplicate_share=duplicates)
    )
    return world_raw_records(people), world_truth(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--spark-records", type=int, default=5_000, help="0 skips Spark")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)

    started = time.perf_counter()
    records, truth = build(args.records, args.duplicates, args.seed)
    generated = time.perf_counter() - started
    n = records.num_rows
    print(f"records {n:,} (generated in {generated:.1f}s, not counted), true pairs {len(truth):,}")

    started = time.perf_counter()
    baseline = exact_match_pairs(records)
    baseline_s = time.perf_counter() - started

    settings = LinkSettings()
    started = time.perf_counter()
    result = link_records(records, settings)
    engine_s = time.perf_counter() - started
    links = link_pairs(result, settings.review_threshold)
    engine, base = score(links, truth), score(baseline, truth)
    all_pairs = n * (n - 1) // 2

    print(f"\nDuckDB engine, end to end: {engine_s:.1f}s (target < 60 s) · peak RSS "
          f"{peak_rss_mb():,.0f} MB (target < 4,096 MB)")  # fmt: skip
    print("  phases: " + " · ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    print(f"  blocked pairs (bound) {result.blocked_pairs_bound:,} of {all_pairs:,} naive pairs "
          f"({all_pairs / max(result.blocked_pairs_bound, 1):,.0f}× fewer)")  # fmt: skip
    print(f"exact-match baseline: {baseline_s:.2f}s · engine/baseline time "
          f"{engine_s / max(baseline_s, 1e-9):.0f}×")  # fmt: skip
    print(f"{'':24}{'links':>9}{'precision':>11}{'recall':>9}{'F1':>8}")
    for label, s in (("probabilistic (Splink)", engine), ("exact-match baseline", base)):
        print(f"{label:24}{s.links:>9,}{s.precision:>11.4f}{s.recall:>9.4f}{s.f1:>8.4f}")

    if args.spark_records:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from libcrm.linkage.engine.spark import spark_session, stop_spark_session

        small, small_truth = build(args.spark_records, args.duplicates, args.seed + 1)
        started = time.perf_counter()
        on_duckdb = link_records(small, LinkSettings())
        duck_s = time.perf_counter() - started
        started = time.perf_counter()
        spark_session()
        session_s = time.perf_counter() - started
        started = time.perf_counter()
        on_spark = link_records(small, LinkSettings(backend="spark"))
        spark_s = time.perf_counter() - started
        stop_spark_session()
        duck = {(r["left_id"], r["right_id"]): r["match_probability"]
                for r in on_duckdb.pairs.to_pylist()}  # fmt: skip
        sprk = {(r["left_id"], r["right_id"]): r["match_probability"]
                for r in on_spark.pairs.to_pylist()}  # fmt: skip
        common = set(duck) & set(sprk)
        diff = max((abs(duck[k] - sprk[k]) for k in common), default=0.0)
        print(f"\nSpark local mode on {small.num_rows:,} records: {spark_s:.1f}s (+{session_s:.1f}s "
              f"session start) vs DuckDB {duck_s:.1f}s on the same input")  # fmt: skip
        print(f"  links: DuckDB {len(duck):,} · Spark {len(sprk):,} · identical: "
              f"{set(duck) == set(sprk)} · only DuckDB {len(set(duck) - set(sprk))} · only Spark "
              f"{len(set(sprk) - set(duck))} · max |Δ probability| {diff:.2e}")  # fmt: skip
        s = score(link_pairs(on_spark, 0.5), small_truth)
        print(f"  Spark links: precision {s.precision:.4f} recall {s.recall:.4f} F1 {s.f1:.4f}")


if __name__ == "__main__":
    main()
