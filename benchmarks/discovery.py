"""Benchmark: how well discovered groups find the demo world's latent behaviour groups, and
how long discovery takes.

Reads the feature table and the ground truth of a demo world (``libcrm demo``), runs
:func:`libcrm.segments.discovery.discover` on the features, and measures the adjusted Rand
index (ARI) between the discovered clusters and the latent groups (each patron record's
person's group), beside a random baseline in the same run: the same cluster sizes, shuffled
over the patrons (several shuffles, their mean). Then times discovery on a table of
``--patrons`` rows (the demo's rows repeated, with a little noise on the counts) to see
whether the console can run it synchronously.

    LIBCRM_HOME=/tmp/disc LIBCRM_DATA_DIR=/tmp/disc/data .venv/bin/libcrm migrate
    LIBCRM_HOME=/tmp/disc LIBCRM_DATA_DIR=/tmp/disc/data .venv/bin/libcrm demo
    .venv/bin/python -m benchmarks.discovery --data /tmp/disc/data --patrons 100000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score

from libcrm.features.definitions import FEATURES
from libcrm.segments.discovery import discover, random_baseline


def latent_groups(data: Path, seed: int, keys: list[str]) -> np.ndarray:
    """The latent group of each patron key (through its record's person); '' when unknown."""
    truth = data / "world" / str(seed) / "ground_truth"
    records = pq.read_table(truth / "records.parquet", columns=["person", "patron_key"])
    persons = pq.read_table(truth / "persons.parquet", columns=["person", "group"])
    group_of = dict(zip(persons["person"].to_pylist(), persons["group"].to_pylist(), strict=True))
    by_key = {
        k: group_of[p]
        for p, k in zip(
            records["person"].to_pylist(), records["patron_key"].to_pylist(), strict=True
        )
    }
    return np.array([by_key.get(k, "") for k in keys])


def scaled(table: pa.Table, rows: int, seed: int) -> pa.Table:
    """``rows`` rows made of the table's rows repeated, counts jittered by ±1, new keys."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, table.num_rows, rows)
    out = table.take(pa.array(pick))
    columns = {}
    for f in FEATURES:
        if f.name not in out.column_names or f.type.value != "int":
            continue
        values = out[f.name].to_numpy(zero_copy_only=False).astype(float)
        jitter = rng.integers(-1, 2, rows)
        columns[f.name] = pa.array(
            np.clip(values + jitter, 0, None), mask=np.isnan(values), type=pa.int64()
        )
    for name, column in columns.items():
        out = out.set_column(out.schema.get_field_index(name), name, column)
    keys = pa.array([f"bench-{i:07d}" for i in range(rows)])
    return out.set_column(out.schema.get_field_index("patron_key"), "patron_key", keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the demo's LIBCRM_DATA_DIR")
    parser.add_argument("--world-seed", type=int, default=42)
    parser.add_argument("--k", type=int, default=None, help="groups (default: by silhouette)")
    parser.add_argument("--patrons", type=int, default=100_000, help="rows for the timing run")
    parser.add_argument("--shuffles", type=int, default=20)
    args = parser.parse_args()

    table = pq.read_table(args.data / "features" / "profiles.parquet")
    truth = latent_groups(args.data, args.world_seed, table["patron_key"].to_pylist())
    known = truth != ""
    table = table.filter(pa.array(known))
    truth = truth[known]
    print(f"demo world: {table.num_rows:,} patrons with features, "
          f"{len(set(truth))} latent groups")  # fmt: skip

    found = discover(table, FEATURES, k=args.k, seed=0)
    ari = adjusted_rand_score(truth, found.clusters)
    shuffled = [
        adjusted_rand_score(truth, random_baseline(found.clusters, seed))
        for seed in range(args.shuffles)
    ]
    print(f"discovered: k = {found.k} (silhouettes "
          + ", ".join(f"{k}: {s:.3f}" for k, s in found.silhouettes.items())
          + f"), {len(found.features)} features")  # fmt: skip
    print(f"ARI discovered vs latent groups: {ari:.3f}")
    print(f"ARI random baseline (same sizes, shuffled; mean of {args.shuffles}): "
          f"{np.mean(shuffled):.4f} (max {np.max(shuffled):.4f})")  # fmt: skip
    with_k = discover(table, FEATURES, k=len(set(truth)), seed=0)
    print(f"ARI with k = number of latent groups ({with_k.k}): "
          f"{adjusted_rand_score(truth, with_k.clusters):.3f}")  # fmt: skip
    for g in found.groups:
        inside = found.labels == g.number
        values, counts = np.unique(truth[inside], return_counts=True)
        top = ", ".join(f"{v} {c / inside.sum():.0%}" for v, c in
                        sorted(zip(values, counts, strict=True), key=lambda vc: -vc[1])[:2])  # fmt: skip
        rule = g.rule
        print(f"  group {g.number}: {g.size:,} patrons [{top}]; rule precision "
              f"{rule.precision:.2f} recall {rule.recall:.2f}" if rule else "")  # fmt: skip
        print(f"    {g.description('en')}")
        print(f"    {g.description('zh')}")

    runs = []
    for _ in range(3):
        started = time.perf_counter()
        discover(table, FEATURES, seed=0)
        runs.append(time.perf_counter() - started)
    print(f"timing: discover on the demo's {table.num_rows:,} patrons (k chosen), median of 3: "
          f"{sorted(runs)[1]:.2f} s")  # fmt: skip

    big = scaled(table, args.patrons, seed=1)
    started = time.perf_counter()
    timed = discover(big, FEATURES, seed=0)
    seconds = time.perf_counter() - started
    print(f"timing: discover on {big.num_rows:,} patrons (k chosen: {timed.k}): {seconds:.2f} s")
    started = time.perf_counter()
    discover(big, FEATURES, k=timed.k, seed=0)
    print(f"timing: discover on {big.num_rows:,} patrons with k given: "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
