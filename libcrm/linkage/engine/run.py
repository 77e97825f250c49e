"""One linkage run: prepare, bound the blocked pairs, train unsupervised, predict, explain.

Training uses nothing but the records themselves (no labels):

1. **u** (how often each level happens between two different people) by random sampling: a
   deterministic sample of the records, chosen by a hash of their id, of at most
   ``U_SAMPLE_RECORDS`` records, and *all* pairs among them — so the DuckDB and Spark backends
   see exactly the same pairs and estimate the same u;
2. the **prior** λ (the chance that two random records are one person) from a deterministic
   rule (same pinyin name and birth year), assuming it finds ``PRIOR_RULE_RECALL`` of them;
3. **m** of gender, contacts, department, branch, category and items from the *anchor pairs*
   (same rare name in 汉字, birth years compatible, no two campus/national IDs), counted as if
   labelled and smoothed; m of the birth year and the name by expectation maximisation over
   the pairs of each training blocking rule, which leaves the rule's own columns to the other
   passes (EM over those attributes collapsed: it took "everything agrees" for one person and
   gave levels such as "other category" an m of zero);
4. **u corrected** for the matches among the random pairs: u = (share − λ·m) / (1 − λ).

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
from splink.internals.exceptions import EMTrainingException

from libcrm.linkage.engine import model as m
from libcrm.linkage.engine.prepare import PREPARED_SCHEMA, prepare_records

U_SAMPLE_RECORDS = 2_500
PRIOR_RULE_RECALL = 0.5
EM_MAX_PAIRS = 2_000_000
EM_SAMPLE_FROM = 50_000  # records from which an EM pass samples its blocked pairs
ANCHOR_MIN_PAIRS = 20  # fewer anchor pairs than this: keep the starting m values
M_FLOOR = 0.01  # smallest m of a level learnt from the anchor pairs
U_KEEP = 0.05  # u corrected for the matches among random pairs keeps this much of the share
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
        spec = m.COMPARISON_BY_NAME[comparison["output_column_name"]]
        for level, level_spec in zip(comparison["comparison_levels"], spec.levels, strict=True):
            if not level.get("is_null_level"):
                level["fix_m_probability"] = fixed or level_spec.fixed_m
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


def anchor_pairs(prepared: pa.Table) -> pa.Table:
    """Pairs almost surely of one person, found without labels: the same *rare* name in 汉字
    (no third record of the run holds it), birth years equal, one apart or left out, and no
    two campus/national IDs between them. Deterministic (the same pairs on every backend)."""
    con = duckdb.connect()
    try:
        con.register("records", prepared)
        return con.execute(
            f"""
            SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r
            FROM records l JOIN records r
              ON l.name_han = r.name_han AND l.unique_id < r.unique_id
            WHERE l.name_count <= {m.RARE_NAME_COUNT} AND r.name_count <= {m.RARE_NAME_COUNT}
              AND (l.birth_year IS NULL OR r.birth_year IS NULL
                   OR abs(l.birth_year - r.birth_year) <= 1)
              AND NOT list_has_any(coalesce(l.unique_kinds, []), coalesce(r.unique_kinds, []))
            ORDER BY 1, 2
            """  # noqa: S608 (constants only)
        ).to_arrow_table()
    finally:
        con.close()


def _smoothed(levels: list[dict[str, Any]], floor: float) -> None:
    """Every non-null level keeps at least ``floor`` of m (no level is impossible for one
    person; a level the anchor pairs happen not to show would otherwise weigh −∞)."""
    values = [lv for lv in levels if not lv.get("is_null_level")]
    for level in values:
        level["m_probability"] = max(float(level.get("m_probability") or 0.0), floor)
    total = sum(level["m_probability"] for level in values)
    for level in values:
        level["m_probability"] /= total


def _m_from_anchor_pairs(api: Any, prepared: pa.Table, backend: str, linker: Linker) -> Linker:
    """m of the comparisons :data:`model.ANCHOR_TRAINED` from the :func:`anchor_pairs` (as if
    they were labelled), smoothed; the other comparisons keep theirs."""
    anchors = anchor_pairs(prepared)
    before = linker.misc.save_model_to_json()
    if anchors.num_rows < ANCHOR_MIN_PAIRS:
        # Too few to count (a small registry): expectation maximisation over the pairs with
        # the same pinyin name and birth year instead, as far as there are any.
        so_far = _fix_m_except(before, m.ANCHOR_TRAINED)
        linker = Linker(_register(api, prepared, backend), so_far, log_level=_SPLINK_LOG_LEVEL)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("name_py", "birth_year"), estimate_without_term_frequencies=True
            )
        except EMTrainingException:
            return Linker(_register(api, prepared, backend), so_far, log_level=_SPLINK_LOG_LEVEL)
        return linker
    labels = api.spark.createDataFrame(anchors.to_pandas()) if backend == "spark" else anchors
    linker.table_management.register_table(labels, "__libcrm_anchor_pairs", overwrite=True)
    linker.training.estimate_m_from_pairwise_labels("__libcrm_anchor_pairs")
    learnt = {c["output_column_name"]: c for c in linker.misc.save_model_to_json()["comparisons"]}
    for comparison in before["comparisons"]:
        name = comparison["output_column_name"]
        if name not in m.ANCHOR_TRAINED:
            continue
        for level, new in zip(
            comparison["comparison_levels"], learnt[name]["comparison_levels"], strict=True
        ):
            if not level.get("is_null_level") and new.get("m_probability") is not None:
                level["m_probability"] = new["m_probability"]
        _smoothed(comparison["comparison_levels"], M_FLOOR)
    return Linker(_register(api, prepared, backend), before, log_level=_SPLINK_LOG_LEVEL)


def _matches_out_of_u(model: dict[str, Any]) -> dict[str, Any]:
    """u with the matches taken out. Random pairs are not all non-matches: a level's share
    among them is λ·m + (1 − λ)·u, so u = (share − λ·m) / (1 − λ). Where records of one person
    are common and agreement between strangers rare (a rare name), the uncorrected u is
    several times too large. Kept at least ``U_KEEP`` of the sampled share."""
    prior = float(model["probability_two_random_records_match"])
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            u, mp = level.get("u_probability"), level.get("m_probability")
            if u is None or mp is None:
                continue
            level["u_probability"] = min(max((u - prior * mp) / (1 - prior), u * U_KEEP), 1.0)
    return model


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
    prior = linker._settings_obj._probability_two_random_records_match
    if not 0 < prior < 1:  # the rule found no pair (a handful of records): about one among all
        n = prepared.num_rows
        model = linker.misc.save_model_to_json()
        model["probability_two_random_records_match"] = min(0.5, 2 / max(n * (n - 1), 4))
        linker = Linker(_register(api, prepared, backend), model, log_level=_SPLINK_LOG_LEVEL)
    linker = _m_from_anchor_pairs(api, prepared, backend, linker)
    for columns, only in m.TRAINING_RULES:
        so_far = _fix_m_except(linker.misc.save_model_to_json(), only)
        linker = Linker(_register(api, prepared, backend), so_far, log_level=_SPLINK_LOG_LEVEL)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns),
                estimate_without_term_frequencies=True,
                fix_probability_two_random_records_match="name" in only,
                max_pairs=EM_MAX_PAIRS if prepared.num_rows > EM_SAMPLE_FROM else None,
            )
        except EMTrainingException:
            # No pair in this training block (a tiny registry): keep the values so far (the
            # failed session leaves the linker without the block's comparisons).
            linker = Linker(_register(api, prepared, backend), so_far, log_level=_SPLINK_LOG_LEVEL)
    linker = Linker(
        _register(api, prepared, backend),
        _matches_out_of_u(linker.misc.save_model_to_json()),
        log_level=_SPLINK_LOG_LEVEL,
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
