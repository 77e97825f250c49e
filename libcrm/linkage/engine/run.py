"""One linkage run: prepare, bound the blocked pairs, train unsupervised, predict, explain.

Training uses nothing but the records themselves (no labels):

1. **u** (how often each level happens between two different people) by random sampling: a
   deterministic sample of the records, chosen by a hash of their id, of at most
   ``U_SAMPLE_RECORDS`` records, and *all* pairs among them — so the DuckDB and Spark backends
   see exactly the same pairs and estimate the same u;
2. the **prior** λ (the chance that two random records are one person) from a deterministic
   rule (same pinyin name and birth year), assuming it finds ``PRIOR_RULE_RECALL`` of them;
3. **m** (how often each level happens between two records of one person) by expectation
   maximisation over the pairs of each training blocking rule, which leaves the rule's own
   columns to the other passes.

Pure: no Django.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
from splink import Linker, block_on

from libcrm.linkage.engine import model as m
from libcrm.linkage.engine.prepare import PREPARED_SCHEMA, prepare_records

U_SAMPLE_RECORDS = 2_500
PRIOR_RULE_RECALL = 0.5
EM_MAX_PAIRS = 2_000_000
EM_SAMPLE_FROM = 50_000  # records from which an EM pass samples its blocked pairs
_SPLINK_LOG_LEVEL = logging.ERROR

PAIR_SCHEMA = pa.schema(
    [
        pa.field("left_id", pa.int64(), nullable=False),
        pa.field("right_id", pa.int64(), nullable=False),
        pa.field("match_probability", pa.float64(), nullable=False),
        pa.field("match_weight", pa.float64(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
    ]
)


class TooManyPairs(ValueError):
    """The blocking rules would make more comparisons than the run allows."""


def count_blocked_pairs(prepared: pa.Table) -> dict[str, int]:
    """An upper bound of the pairs each blocking rule makes (their sum bounds the union):
    Σ n·(n−1)/2 over the rule's blocks. Cheap (one group-by per rule), so a run can refuse
    before it starts."""
    con = duckdb.connect()
    try:
        con.register("records", prepared)
        counts: dict[str, int] = {}
        # Column names come from the model's own constants, never from input (hence the noqa).
        pairs = "SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM ({}) AS blocks"
        for columns in m.BLOCKING_RULES:
            not_null = " AND ".join(f"{c} IS NOT NULL" for c in columns)
            keys = ", ".join(columns)
            blocks = f"SELECT count(*) AS n FROM records WHERE {not_null} GROUP BY {keys}"  # noqa: S608
            counts["+".join(columns)] = int(con.execute(pairs.format(blocks)).fetchone()[0])
        for column in m.ARRAY_BLOCKING_RULES:
            values = f"SELECT unique_id, unnest({column}) AS v FROM records"  # noqa: S608
            blocks = f"SELECT count(DISTINCT unique_id) AS n FROM ({values}) GROUP BY v"  # noqa: S608
            counts[column] = int(con.execute(pairs.format(blocks)).fetchone()[0])
        return counts
    finally:
        con.close()


def _hash_fraction(value: int) -> float:
    """A fixed pseudo-random number in [0, 1) for an id (Knuth's multiplicative hash)."""
    return ((value * 2654435761) % 4294967296) / 4294967296


def u_sample(prepared: pa.Table, size: int = U_SAMPLE_RECORDS) -> pa.Table:
    """The records u is estimated on: all of them when few, else about ``size`` chosen by a
    hash of their id (the same records on every backend and every run)."""
    if prepared.num_rows <= size:
        return prepared
    share = size / prepared.num_rows
    keep = [_hash_fraction(i) < share for i in prepared.column("unique_id").to_pylist()]
    return prepared.filter(pa.array(keep))


def _duckdb_api() -> Any:
    from splink import DuckDBAPI

    # One in-memory connection per run: Splink's temporary tables never reach the disk.
    return DuckDBAPI(connection=duckdb.connect(":memory:"))


def _spark_api() -> Any:
    from splink.backends.spark import SparkAPI

    from libcrm.linkage.engine.spark import spark_session

    return SparkAPI(
        spark_session=spark_session(),
        break_lineage_method="persist",
        register_udfs_automatically=False,
        num_partitions_on_repartition=4,
    )


BACKENDS: dict[str, Callable[[], Any]] = {"duckdb": _duckdb_api, "spark": _spark_api}


def _register(api: Any, table: pa.Table, backend: str) -> Any:
    if backend == "spark":
        # With an explicit schema: a column that is null throughout (no items recorded) would
        # otherwise be inferred as VOID and break the array comparisons.
        from libcrm.linkage.engine.spark import spark_schema

        frame = api.spark.createDataFrame(
            [tuple(row.values()) for row in table.to_pylist()], schema=spark_schema(table.schema)
        )
        return api.register(frame)
    return api.register(table)


def _fix_m_except(model: dict[str, Any], trainable: tuple[str, ...]) -> dict[str, Any]:
    """The model with the m values of every comparison outside ``trainable`` held fixed."""
    for comparison in model["comparisons"]:
        fixed = comparison["output_column_name"] not in trainable
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                level["fix_m_probability"] = fixed
    return model


def _levels_by_gamma(linker: Linker) -> dict[str, dict[int, dict[str, Any]]]:
    """For each comparison, its levels keyed by Splink's comparison vector value (γ)."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for comparison in linker._settings_obj.comparisons:
        spec = m.COMPARISON_BY_NAME[comparison.output_column_name]
        levels: dict[int, dict[str, Any]] = {}
        for level, level_spec in zip(comparison.comparison_levels, spec.levels, strict=True):
            is_else = level_spec is spec.levels[-1]
            weight = 0.0
            mp = up = None
            if not level.is_null_level:
                mp, up = level.m_probability, level.u_probability
            if mp and up:
                weight = math.log2(mp / up)
            levels[int(level.comparison_vector_value)] = {
                "level": level_spec.label_en,
                "label_en": level_spec.label_en,
                "label_zh": level_spec.label_zh,
                "agrees": not level.is_null_level and not is_else,
                "null": bool(level.is_null_level),
                "m": mp,
                "u": up,
                "match_weight": weight,
            }
        found[spec.name] = levels
    return found


def model_summary(linker: Linker) -> dict[str, Any]:
    """The trained model as staff see it: the prior and, per comparison, each level's m, u and
    match weight (log₂ of the Bayes factor m/u) with its labels."""
    prior = float(linker._settings_obj._probability_two_random_records_match)
    levels = _levels_by_gamma(linker)
    comparisons = []
    for spec in m.COMPARISONS:
        rows = sorted(levels[spec.name].items(), key=lambda kv: -kv[0])
        comparisons.append(
            {
                "comparison": spec.name,
                "label_en": spec.label_en,
                "label_zh": spec.label_zh,
                "levels": [
                    {
                        "gamma": gamma,
                        "label_en": row["label_en"],
                        "label_zh": row["label_zh"],
                        "null": row["null"],
                        "m": None if row["null"] else row["m"],
                        "u": None if row["null"] else row["u"],
                        "match_weight": None if row["null"] else round(row["match_weight"], 4),
                    }
                    for gamma, row in rows
                ],
            }
        )
    return {
        "prior": prior,
        "prior_match_weight": math.log2(prior / (1 - prior)),
        "comparisons": comparisons,
        "blocking_rules": [" AND ".join(r) for r in m.BLOCKING_RULES]
        + [f"any shared {c}" for c in m.ARRAY_BLOCKING_RULES],
        "training": {
            "u": f"all pairs among up to {U_SAMPLE_RECORDS:,} records sampled by id hash",
            "prior": f"same pinyin name and birth year, assumed recall {PRIOR_RULE_RECALL}",
            "m": [
                "expectation maximisation over pairs blocked on "
                + " AND ".join(rule)
                + f", estimating only {', '.join(only)}"
                for rule, only in m.TRAINING_RULES
            ],
        },
    }


def _evidence_rows(
    frame: Any, levels: dict[str, dict[int, dict[str, Any]]]
) -> tuple[list[int], list[int], list[float], list[float], list[str]]:
    left, right, probability, weight, evidence = [], [], [], [], []
    columns = {name: frame[name].tolist() for name in frame.columns}
    for row in range(len(frame)):
        a, b = int(columns["unique_id_l"][row]), int(columns["unique_id_r"][row])
        entries = []
        for spec in m.COMPARISONS:
            gamma = int(columns[f"gamma_{spec.name}"][row])
            level = levels[spec.name][gamma]
            contribution = float(columns[f"mw_{spec.name}"][row])
            tf = columns.get(f"mw_tf_adj_{spec.name}")
            if tf is not None and tf[row] is not None and not math.isnan(tf[row]):
                contribution += float(tf[row])
            entries.append(
                {
                    "comparison": spec.name,
                    "level": level["level"],
                    "label_en": level["label_en"],
                    "label_zh": level["label_zh"],
                    "agrees": level["agrees"],
                    "weight": round(contribution, 4),
                }
            )
        left.append(min(a, b))
        right.append(max(a, b))
        probability.append(float(columns["match_probability"][row]))
        weight.append(float(columns["match_weight"][row]))
        evidence.append(json.dumps(entries, ensure_ascii=False))
    return left, right, probability, weight, evidence


def train_and_predict(
    prepared: pa.Table, backend: str, review_threshold: float
) -> tuple[pa.Table, dict[str, Any], dict[str, float]]:
    """Trains the model on ``prepared`` with ``backend`` and scores the blocked pairs."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    api = BACKENDS[backend]()
    sample = u_sample(prepared)
    sample_linker = Linker(
        _register(api, sample, backend), m.settings(), log_level=_SPLINK_LOG_LEVEL
    )
    n = sample.num_rows
    sample_linker.training.estimate_u_using_random_sampling(
        max_pairs=max(n * (n - 1) / 2, 1) + 1, min_count_per_level=None, num_chunks=1
    )
    trained = sample_linker.misc.save_model_to_json()
    linker = Linker(_register(api, prepared, backend), trained, log_level=_SPLINK_LOG_LEVEL)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name_py", "birth_year")], recall=PRIOR_RULE_RECALL
    )
    for columns, only in m.TRAINING_RULES:
        linker = Linker(
            _register(api, prepared, backend),
            _fix_m_except(linker.misc.save_model_to_json(), only),
            log_level=_SPLINK_LOG_LEVEL,
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns),
            estimate_without_term_frequencies=True,
            fix_probability_two_random_records_match="name" in only,
            max_pairs=EM_MAX_PAIRS if prepared.num_rows > EM_SAMPLE_FROM else None,
        )
    timings["train"] = time.perf_counter() - started
    started = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=review_threshold)
    frame = predictions.as_pandas_dataframe()
    levels = _levels_by_gamma(linker)
    left, right, probability, weight, evidence = _evidence_rows(frame, levels)
    pairs = pa.table(
        {
            "left_id": pa.array(left, pa.int64()),
            "right_id": pa.array(right, pa.int64()),
            "match_probability": pa.array(probability, pa.float64()),
            "match_weight": pa.array(weight, pa.float64()),
            "evidence": pa.array(evidence, pa.string()),
        },
        schema=PAIR_SCHEMA,
    ).sort_by([("left_id", "ascending"), ("right_id", "ascending")])
    timings["predict"] = time.perf_counter() - started
    summary = model_summary(linker)
    with contextlib.suppress(Exception):  # cleanup of a finished run must not fail it
        api.delete_tables_created_by_splink_from_db()
    return pairs, summary, timings


def empty_pairs() -> pa.Table:
    return PAIR_SCHEMA.empty_table()


__all__ = [
    "PAIR_SCHEMA",
    "PREPARED_SCHEMA",
    "TooManyPairs",
    "count_blocked_pairs",
    "prepare_records",
    "train_and_predict",
]
