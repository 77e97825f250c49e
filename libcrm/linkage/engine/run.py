"""One linkage run: prepare, bound the blocked pairs, train unsupervised, predict, explain.

Training uses nothing but the records themselves (no labels):

1. **u** (how often each level happens between two different people) by random sampling: a
   deterministic sample of the records, chosen by a hash of their id, of at most
   ``U_SAMPLE_RECORDS`` records, and *all* pairs among them — so the DuckDB and Spark backends
   see exactly the same pairs and estimate the same u — at least one in the pairs sampled;
   the name levels' u counted exactly over all records (:func:`exact_name_u`);
2. the **prior** λ (the chance that two random records are one person) from a deterministic
   rule (same pinyin name and birth year), assuming it finds ``PRIOR_RULE_RECALL`` of them;
3. **m** of gender, contacts, department, branch, category and items from the *anchor pairs*
   (same rare name in 汉字, birth years compatible, no two campus/national IDs), counted as if
   labelled and smoothed (a level no anchor pair shows gets the floor ``M_FLOOR``, not its
   starting value); m of the birth year and the name by expectation maximisation over
   the pairs of each training blocking rule, which leaves the rule's own columns to the other
   passes (EM over those attributes collapsed: it took "everything agrees" for one person and
   gave levels such as "other category" an m of zero);
4. **u corrected** for the matches among the random pairs: u = (share − λ·m) / (1 − λ);
5. **term frequencies** of the common names counting other people's records only
   (:func:`name_term_frequencies`).

Then every blocked pair is scored, and the pairs among the same few records are scored
together (:func:`together`): one person's records are all one, and a record is one person with
at most one of two records that each hold their own campus or national ID.

Pure: no Django.
"""

from __future__ import annotations

import contextlib
import functools
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
from libcrm.linkage.engine.model import TOGETHER, TOGETHER_LABEL_EN, TOGETHER_LABEL_ZH
from libcrm.linkage.engine.prepare import PREPARED_SCHEMA, prepare_records

U_SAMPLE_RECORDS = 2_500
PRIOR_RULE_RECALL = 0.5
EM_MAX_PAIRS = 2_000_000
EM_SAMPLE_FROM = 50_000  # records from which an EM pass samples its blocked pairs
ANCHOR_MIN_PAIRS = 20  # fewer anchor pairs than this: keep the starting m values
M_FLOOR = 0.01  # smallest m of a level learnt from the anchor pairs
U_KEEP = 0.05  # u corrected for the matches among random pairs keeps this much of the share
MIN_EXACT_U = 1e-9  # smallest u of a name level counted exactly (no pair shows it)
# Pairs from this probability on join their records into a group scored together (see
# together); a pair below it would move another pair's odds by about 1% at most.
CLUSTER_FLOOR = 0.01
MAX_CLUSTER = 8  # records of a group scored together (4,140 ways to split eight)
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


def exact_name_u(prepared: pa.Table) -> dict[str, float]:
    """The share of all pairs of named records in each name level marked ``exact_u`` (see
    :mod:`model`), counted exactly rather than on the u sample: those levels are rare among
    random pairs (a few dozen of millions), so a sample's count swung their weight by several
    bits from one registry to the next. Exact and cheap: every such pair shares ``name_py``
    (汉字 alike are spelt alike), so counting each spelling's and each 汉字 name's holders is
    enough. Matches are still among these pairs; :func:`_matches_out_of_u` takes them out."""
    con = duckdb.connect()
    try:
        con.register("records", prepared)
        rare = m.RARE_NAME_COUNT
        named, rare_han, han, rare_py, py = con.execute(
            f"""
            WITH spellings AS (
                SELECT count(*) AS n FROM records WHERE name_py IS NOT NULL GROUP BY name_py
            ), characters AS (
                SELECT count(*) AS n, max(name_count) AS c FROM records
                WHERE name_han IS NOT NULL GROUP BY name_han
            )
            SELECT
              (SELECT coalesce(sum(n), 0) FROM spellings),
              (SELECT coalesce(sum(n * (n - 1) / 2) FILTER (WHERE c <= {rare}), 0) FROM characters),
              (SELECT coalesce(sum(n * (n - 1) / 2) FILTER (WHERE c > {rare}), 0) FROM characters),
              (SELECT coalesce(sum(n * (n - 1) / 2) FILTER (WHERE n <= {rare}), 0) FROM spellings),
              (SELECT coalesce(sum(n * (n - 1) / 2) FILTER (WHERE n > {rare}), 0) FROM spellings)
            """  # noqa: S608 (constants only)
        ).fetchone()
    finally:
        con.close()
    pairs = max(float(named) * (float(named) - 1) / 2, 1.0)
    counts = {"rare_han": rare_han, "han": han, "rare_py": rare_py - rare_han, "py": py - han}
    return {key: float(value) / pairs for key, value in counts.items()}


def name_term_frequencies(prepared: pa.Table, prior: float) -> dict[str, pa.Table]:
    """The term frequencies of the two name columns whose common values the model adjusts
    for (``name_han``, ``name_py``: the levels of names more than ``RARE_NAME_COUNT`` records
    hold), as Splink's lookup tables (``value``, ``tf_value``).

    Splink weighs a pair agreeing on value v by m / tf(v), with tf(v) the share of records
    holding v. Two corrections make that the likelihood ratio of the pair:

    * the records of *other people* holding v, not all of them: a record's own person holds
      on average λ·(N − 1) further records besides it (λ the prior), so tf(v) counts
      n(v) − 1 − λ·(N − 1) holders (at least one);
    * the level only holds common names, so a matching pair in it has name v with chance
      n(v) / (S·N), S the share of records holding a common name, not n(v) / N: tf(v) is
      multiplied by S.

    Without them the common names (王伟, 张蕊) weighed about two bits too little: pairs
    scored 0.05–0.5 with such a name were 96% true pairs (demo worlds of 2026)."""
    columns = [prepared.column(c).to_pylist() for c in ("name_han", "name_py", "name_count")]
    rows = [row for row in zip(*columns, strict=True) if row[1] is not None]
    named = len(rows)
    if not named:
        return {}
    others = prior * (prepared.num_rows - 1)
    common = [row for row in rows if (row[2] or 0) > m.RARE_NAME_COUNT]
    share = len(common) / named
    tables = {}
    for column, index in (("name_han", 0), ("name_py", 1)):
        counts: dict[str, int] = {}
        for row in rows:
            if row[index] is not None:
                counts[row[index]] = counts.get(row[index], 0) + 1
        values = sorted(counts)
        tables[column] = pa.table(
            {
                column: pa.array(values, pa.string()),
                f"tf_{column}": pa.array(
                    [share * max(counts[v] - 1 - others, 1.0) / named for v in values],
                    pa.float64(),
                ),
            }
        )
    return tables


def _exact_and_pooled_u(
    model: dict[str, Any], prepared: pa.Table, sampled_pairs: float
) -> dict[str, Any]:
    """The sampled u, at least one in ``sampled_pairs`` (a level no sampled pair shows is rarer
    than that, not impossible: left at its starting value it weighed up to +21 bits), with the
    name levels' u counted exactly (:func:`exact_name_u`, at least ``MIN_EXACT_U``) and the
    levels of one ``u_pool`` given the pool's total (see :class:`model.Level`)."""
    exact = exact_name_u(prepared)
    floor = 1.0 / max(sampled_pairs, 1.0)
    for comparison in model["comparisons"]:
        spec = m.COMPARISON_BY_NAME[comparison["output_column_name"]]
        pools: dict[str, float] = {}
        pairs = list(zip(comparison["comparison_levels"], spec.levels, strict=True))
        for level, level_spec in pairs:
            if level.get("is_null_level"):
                continue
            level["u_probability"] = max(float(level.get("u_probability") or 0.0), floor)
            if level_spec.exact_u is not None:
                level["u_probability"] = max(exact[level_spec.exact_u], MIN_EXACT_U)
            if level_spec.u_pool is not None:
                share = float(level.get("u_probability") or 0.0)
                pools[level_spec.u_pool] = pools.get(level_spec.u_pool, 0.0) + share
        for level, level_spec in pairs:
            if level_spec.u_pool is not None and pools[level_spec.u_pool] > 0:
                level["u_probability"] = pools[level_spec.u_pool]
    return model


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
            "u": f"all pairs among up to {U_SAMPLE_RECORDS:,} records sampled by id hash "
            "(at least one in the pairs sampled); the name levels counted exactly over all "
            "records; matches taken out (u = (share − λ·m) / (1 − λ))",
            "prior": f"same pinyin name and birth year, assumed recall {PRIOR_RULE_RECALL}",
            "m": [
                "counted on the anchor pairs (same rare name in 汉字, birth years compatible, "
                "no two campus/national IDs) for " + ", ".join(m.ANCHOR_TRAINED)
            ]
            + [
                "expectation maximisation over pairs blocked on "
                + " AND ".join(rule)
                + f", estimating only {', '.join(only)}"
                for rule, only in m.TRAINING_RULES
            ],
            "term_frequencies": "common names: records of other people holding the name "
            "(less the prior's expected own records), times the share of records holding a "
            "common name",
            "together": f"pairs from {CLUSTER_FLOOR} on grouped; each group of up to "
            f"{MAX_CLUSTER} records scored over the ways it splits into people "
            "(two campus/national ID holders never one)",
        },
    }


@functools.lru_cache(maxsize=MAX_CLUSTER + 1)
def _partitions(size: int) -> tuple[tuple[int, ...], ...]:
    """Every way to split ``size`` records into people, as block labels (restricted growth
    strings: record i is in block labels[i]); 1, 2, 5, 15, … 4,140 for eight records."""
    found: list[list[int]] = []

    def grow(labels: list[int], blocks: int) -> None:
        if len(labels) == size:
            found.append(list(labels))
            return
        for block in range(blocks + 1):
            labels.append(block)
            grow(labels, max(blocks, block + 1))
            labels.pop()

    grow([], 0)
    return tuple(tuple(labels) for labels in found)


def _log2_sum(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log2(sum(2.0 ** (v - top) for v in values))


def together(frame: Any, prepared: pa.Table) -> list[float]:
    """Per scored pair (a row of ``frame``), the log₂ odds shift that taking the other pairs
    among the same records into account makes; 0 for a pair alone.

    Scored one by one, each pair of records is judged as if no other record existed. But a
    person's records are all one (if A is B and A is C, B is C), and two records that each
    hold their own campus or national ID are two people, so a record is one person with at
    most one of them. Both facts are kept by scoring the *ways the records fall into people*
    rather than pairs: the records linked by pairs from ``CLUSTER_FLOOR`` on make a group;
    each way to split a group into people weighs the product of the odds of the pairs it puts
    together (log₂: the sum of their match weights; a pair the blocking never scored counts
    as ``CLUSTER_FLOOR``; a split that puts two ID holders together is impossible); a pair's
    probability is the share of the weight of the splits that put its two records together.
    A WeChat registration "刘涵" (birth year left out) beside two residents 刘涵 who each hold
    a 身份证 is one of them at most, so its two pairs share one chance; a pinyin "Ding Haozhe"
    with another birth year than 丁皓哲 joins it when both are surely the student 丁昊哲.
    Groups above ``MAX_CLUSTER`` records (namesake chains) are left pairwise. Deterministic:
    records in id order, whatever order the backend returned the pairs in."""
    if len(frame) == 0:
        return []
    kinds = {
        record: frozenset(held or ())
        for record, held in zip(
            prepared.column("unique_id").to_pylist(),
            prepared.column("unique_kinds").to_pylist(),
            strict=True,
        )
    }
    left = [int(v) for v in frame["unique_id_l"].tolist()]
    right = [int(v) for v in frame["unique_id_r"].tolist()]
    weights = [float(w) for w in frame["match_weight"].tolist()]
    floor_weight = math.log2(CLUSTER_FLOOR / (1.0 - CLUSTER_FLOOR))
    weight_of: dict[tuple[int, int], float] = {}
    parent: dict[int, int] = {}

    def root(record: int) -> int:
        while parent.setdefault(record, record) != record:
            parent[record] = parent[parent[record]]
            record = parent[record]
        return record

    for a, b, w in zip(left, right, weights, strict=True):
        weight_of[(min(a, b), max(a, b))] = w
        if w >= floor_weight:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for record in sorted(parent):
        groups.setdefault(root(record), []).append(record)
    odds_together: dict[tuple[int, int], float] = {}
    for members in groups.values():
        if not 2 < len(members) <= MAX_CLUSTER:
            continue  # a pair alone is as scored; a long chain stays pairwise
        pair_weight = {}
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if kinds[a] & kinds[b]:
                    pair_weight[(a, b)] = -math.inf
                else:
                    pair_weight[(a, b)] = weight_of.get((a, b), floor_weight)
        splits = []
        for labels in _partitions(len(members)):
            total = 0.0
            for i, a in enumerate(members):
                for j in range(i + 1, len(members)):
                    if labels[i] == labels[j]:
                        total += pair_weight[(a, members[j])]
            splits.append((labels, total))
        for i, a in enumerate(members):
            for j in range(i + 1, len(members)):
                b = members[j]
                if (a, b) not in weight_of:
                    continue
                joined = _log2_sum([t for labels, t in splits if labels[i] == labels[j]])
                apart = _log2_sum([t for labels, t in splits if labels[i] != labels[j]])
                odds_together[(a, b)] = joined - apart
    shifts = []
    for a, b, w in zip(left, right, weights, strict=True):
        key = (min(a, b), max(a, b))
        shift = odds_together[key] - w if key in odds_together else 0.0
        shifts.append(0.0 if abs(shift) < 1e-9 else max(shift, -1000.0))
    return shifts


def _evidence_rows(
    frame: Any, levels: dict[str, dict[int, dict[str, Any]]], shifts: list[float]
) -> tuple[list[int], list[int], list[float], list[float], list[str]]:
    """The pairs with their evidence: one entry per comparison, and one for the shift the
    other pairs among the same records made (:func:`together`), if any."""
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
        shift = shifts[row]
        if shift:
            entries.append(
                {
                    "comparison": TOGETHER,
                    "level": TOGETHER_LABEL_EN,
                    "label_en": TOGETHER_LABEL_EN,
                    "label_zh": TOGETHER_LABEL_ZH,
                    "agrees": shift > 0,
                    "weight": round(shift, 4),
                }
            )
        total = float(columns["match_weight"][row]) + shift
        left.append(min(a, b))
        right.append(max(a, b))
        probability.append(
            1.0 / (1.0 + 2.0 ** -min(total, 1000.0))
            if shift
            else float(columns["match_probability"][row])
        )
        weight.append(total)
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
    # Counted from no starting value: Splink keeps a level's starting m when no labelled pair
    # shows the level, and such a level's m is about 0 (the floor below), not its start (which
    # gave "different departments" an m of 0.23 when no anchor pair's departments differ).
    blank = json.loads(json.dumps(before))
    for comparison in blank["comparisons"]:
        if comparison["output_column_name"] in m.ANCHOR_TRAINED:
            for level in comparison["comparison_levels"]:
                level.pop("m_probability", None)
    linker = Linker(_register(api, prepared, backend), blank, log_level=_SPLINK_LOG_LEVEL)
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
            if not level.get("is_null_level"):
                level["m_probability"] = new.get("m_probability") or 0.0
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
    return _given_groups(model)


def _given_groups(model: dict[str, Any]) -> dict[str, Any]:
    """The m and u of the levels of one ``given`` group (see :class:`model.Level`) scaled to
    sum to one within the group: P(level | match, condition) and P(level | non-match,
    condition), so the weight counts only what the level adds to the condition."""
    for comparison in model["comparisons"]:
        spec = m.COMPARISON_BY_NAME[comparison["output_column_name"]]
        groups: dict[str, list[dict[str, Any]]] = {}
        for level, level_spec in zip(comparison["comparison_levels"], spec.levels, strict=True):
            if level_spec.given is not None and not level.get("is_null_level"):
                groups.setdefault(level_spec.given, []).append(level)
        for levels in groups.values():
            for key in ("m_probability", "u_probability"):
                total = sum(float(level.get(key) or 0.0) for level in levels)
                if total > 0:
                    for level in levels:
                        level[key] = float(level.get(key) or 0.0) / total
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
    trained = _exact_and_pooled_u(
        sample_linker.misc.save_model_to_json(), prepared, max(n * (n - 1) / 2, 1)
    )
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
    prior = float(linker._settings_obj._probability_two_random_records_match)
    for column, table in name_term_frequencies(prepared, prior).items():
        linker.table_management.register_term_frequency_lookup(
            _register(api, table, backend), column
        )
    timings["train"] = time.perf_counter() - started
    started = time.perf_counter()
    predictions = linker.inference.predict(
        threshold_match_probability=min(review_threshold, CLUSTER_FLOOR)
    )
    frame = predictions.as_pandas_dataframe()
    shifts = together(frame, prepared)
    keep = [
        1.0 / (1.0 + 2.0 ** -min(float(w) + shift, 1000.0)) >= review_threshold
        for w, shift in zip(frame["match_weight"].tolist(), shifts, strict=True)
    ]
    frame = frame[keep].reset_index(drop=True)
    shifts = [shift for shift, k in zip(shifts, keep, strict=True) if k]
    levels = _levels_by_gamma(linker)
    left, right, probability, weight, evidence = _evidence_rows(frame, levels, shifts)
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
