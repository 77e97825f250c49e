"""Discovered groups (自动发现的读者群体): clustering on the standardised behavioural features
proposes groups of patrons, says in plain English and Chinese what sets each apart, and gives
each a rule in the segment language that a librarian can save and edit as a segment.

Pure: numpy and scikit-learn over an Arrow feature table, no Django. The table is keyed by
the pseudonymous ``patron_key`` only; nothing here sees a personal field.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from libcrm.segments.rules import Catalogue, RuleError, catalogue_of, validate

K_RANGE = range(3, 11)
"""The numbers of groups tried when ``k`` is not given."""
CHOICE_SAMPLE = 10_000
"""Rows the choice of k clusters (a fixed-seed sample; bounded work on any library)."""
CHOICE_N_INIT = 2
SILHOUETTE_SAMPLE = 3_000
"""Rows the silhouette of each tried k is measured on (it costs the square of the rows)."""
MINIBATCH_FROM = 200_000
"""From this many rows on, mini-batch k-means (a few passes over batches) replaces k-means."""
N_INIT = 4
TREE_DEPTH = 3
TREE_SAMPLE = 20_000
"""Rows each group's tree learns from (a fixed-seed sample); its rule is measured on all."""
MAX_MISSING = 0.5
"""A feature missing for more than half the patrons says little about groups: left out."""
MIN_DIFFERENCE = 0.25
"""Standardised mean difference below which a feature does not set a group apart."""
MAX_DISTINCTIONS = 4
REDUNDANT = 0.9
"""Correlation above which a second feature would repeat the first in a description."""
_SHORT_WINDOWS = ("_30d",)  # mostly noise at this length; 90 and 365 days say it more stably


class DiscoveryError(ValueError):
    """Discovery cannot run on this table (too few patrons, no usable feature)."""


@dataclass(frozen=True)
class Distinction:
    """One feature that sets a group apart: its label, how far (standardised mean
    difference, positive when the group has more) and the typical values."""

    feature: str
    label: str
    label_zh: str
    difference: float
    statistic: str  # "median", or "mean" when the medians are equal
    group_value: float
    rest_value: float
    everyone_median: float
    group_median: float

    @property
    def higher(self) -> bool:
        return self.difference > 0

    def phrase(self, lang: str = "en") -> str:
        """``Number of loans, last 365 days: far higher than others (median 14 vs 2)``."""
        strong = abs(self.difference) >= 1.0
        a, b = _number(self.group_value), _number(self.rest_value)
        if lang == "zh":
            how = ("远" if strong else "") + ("高于" if self.higher else "低于")
            stat = "中位数" if self.statistic == "median" else "平均值"
            return f"{self.label_zh}：{how}其他读者（{stat} {a}，其他读者 {b}）"
        how = ("far " if strong else "") + ("higher" if self.higher else "lower")
        return f"{self.label}: {how} than others ({self.statistic} {a} vs {b})"


@dataclass(frozen=True)
class GroupRule:
    """A rule in the segment language that approximates a group, and how well: of the
    patrons it selects, the share in the group (precision); of the group, the share it
    selects (recall)."""

    rule: dict[str, Any]
    precision: float
    recall: float
    errors: tuple[RuleError, ...] = ()


@dataclass(frozen=True)
class DiscoveredGroup:
    number: int  # 1.., largest first
    size: int
    centroid: dict[str, float]  # in the feature's own unit (the transform undone)
    distinctions: tuple[Distinction, ...]
    rule: GroupRule | None

    def description(self, lang: str = "en") -> str:
        if not self.distinctions:
            return "与其他读者没有明显差别" if lang == "zh" else "not far from everyone else"
        return ("；" if lang == "zh" else "; ").join(d.phrase(lang) for d in self.distinctions)


@dataclass
class Discovery:
    """The groups found (each at least ``min_group_size`` patrons, largest first), with the
    cluster of every row (``labels``: the group's number, 0 for a group too small to show)."""

    patron_keys: list[str]
    labels: np.ndarray
    clusters: np.ndarray  # the raw cluster index of each row
    features: list[str]
    k: int
    groups: list[DiscoveredGroup]
    suppressed: int  # patrons in clusters smaller than min_group_size
    silhouettes: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.patron_keys)


def discovery_features(catalogue: Catalogue | Iterable[Any]) -> list[str]:
    """The features clustering reads: whole numbers and numbers (counts, shares, recency)
    over 90 or 365 days or without a window; dates, lists and texts are left out, and so are
    the 30-day windows (on the demo world they lower the agreement with its latent groups)."""
    fields = catalogue if isinstance(catalogue, dict) else catalogue_of(catalogue)
    return [
        f.name
        for f in fields.values()
        if f.type in ("int", "float") and not f.name.endswith(_SHORT_WINDOWS)
    ]


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def _matrix(
    table: pa.Table, names: Sequence[str], types: dict[str, str]
) -> tuple[np.ndarray, list[str]]:
    """The raw values (float, NaN for missing) of the usable features."""
    columns, kept = [], []
    for name in names:
        if name not in table.column_names:
            continue
        values = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)
        missing = np.isnan(values)
        if missing.mean() > MAX_MISSING or np.nanmin(values) == np.nanmax(values):
            continue
        columns.append(values)
        kept.append(name)
    if not kept:
        raise DiscoveryError("features: no numeric feature varies across the patrons")
    return np.column_stack(columns), kept


def _transform(raw: np.ndarray, types: Sequence[str]) -> np.ndarray:
    """Missing values become the column's median; whole-number counts (heavy-tailed) are
    log1p'd, so that one patron with 400 loans does not make a group of their own."""
    out = raw.copy()
    medians = np.nanmedian(out, axis=0)
    rows, cols = np.where(np.isnan(out))
    out[rows, cols] = medians[cols]
    for j, kind in enumerate(types):
        if kind == "int":
            out[:, j] = np.log1p(np.clip(out[:, j], 0, None))
    return out


def _choose_k(z: np.ndarray, seed: int) -> tuple[int, dict[int, float], np.ndarray]:
    """The k in :data:`K_RANGE` whose k-means on a sample has the best silhouette, and that
    run's centres (the full run starts from them, so the choice is not paid twice)."""
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= CHOICE_SAMPLE else z[rng.choice(len(z), CHOICE_SAMPLE, replace=False)]
    scores: dict[int, float] = {}
    centres: dict[int, np.ndarray] = {}
    for k in K_RANGE:
        if k >= len(sample):
            break
        model = KMeans(k, n_init=CHOICE_N_INIT, random_state=seed).fit(sample)
        if len(set(model.labels_)) < 2:
            continue
        centres[k] = model.cluster_centers_
        scores[k] = float(
            silhouette_score(
                sample,
                model.labels_,
                sample_size=min(SILHOUETTE_SAMPLE, len(sample)),
                random_state=seed,
            )
        )
    if not scores:
        raise DiscoveryError("k: too few distinct patrons to form groups")
    best = max(scores, key=lambda k: scores[k])
    return best, scores, centres[best]


def _cluster(
    z: np.ndarray, k: int, seed: int, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    init: Any = start if start is not None else "k-means++"
    n_init = 1 if start is not None else N_INIT
    if len(z) >= MINIBATCH_FROM:
        model: Any = MiniBatchKMeans(
            k, init=init, n_init=n_init, random_state=seed, batch_size=4096,
            max_no_improvement=20,
        )  # fmt: skip
    else:
        model = KMeans(k, init=init, n_init=n_init, random_state=seed)
    labels = model.fit_predict(z)
    return labels, model.cluster_centers_


def _topic(name: str) -> str:
    """What a feature is about, without its window or count kind: ``loans_events_365d`` and
    ``loans_days_90d`` are both ``loans``, so a description names it once."""
    for suffix in ("_365d", "_90d", "_30d"):
        name = name.removesuffix(suffix)
    return name.removesuffix("_events").removesuffix("_days")


def _distinctions(
    z: np.ndarray,
    raw: np.ndarray,
    inside: np.ndarray,
    names: Sequence[str],
    fields: Catalogue,
    corr: np.ndarray,
) -> tuple[Distinction, ...]:
    smd = z[inside].mean(axis=0) - z[~inside].mean(axis=0)  # z is unit-variance overall
    chosen: list[int] = []
    for j in np.argsort(-np.abs(smd)):
        if abs(smd[j]) < MIN_DIFFERENCE or len(chosen) >= MAX_DISTINCTIONS:
            break
        if any(abs(corr[j, c]) > REDUNDANT or _topic(names[j]) == _topic(names[c]) for c in chosen):
            continue
        chosen.append(int(j))
    out = []
    for j in chosen:
        group, rest = raw[inside, j], raw[~inside, j]
        g_med, r_med = float(np.nanmedian(group)), float(np.nanmedian(rest))
        statistic, g, r = "median", g_med, r_med
        if g_med == r_med:
            statistic, g, r = "mean", float(np.nanmean(group)), float(np.nanmean(rest))
        f = fields[names[j]]
        out.append(
            Distinction(
                feature=names[j],
                label=f.label or f.name,
                label_zh=f.label_zh or f.label or f.name,
                difference=round(float(smd[j]), 3),
                statistic=statistic,
                group_value=g,
                rest_value=r,
                everyone_median=float(np.nanmedian(raw[:, j])),
                group_median=g_med,
            )
        )
    return tuple(out)


def _bound(name: str, op: str, threshold: float, kind: str) -> dict[str, Any]:
    # The tree splits whole numbers half-way (4.5): "<= 4.5" is "<= 4", "> 4.5" is "> 4".
    value: float | int = int(np.floor(threshold)) if kind == "int" else round(threshold, 4)
    return {"field": name, "op": op, "value": value}


def tree_rule(
    raw: np.ndarray, inside: np.ndarray, names: Sequence[str], types: Sequence[str], seed: int = 0
) -> dict[str, Any] | None:
    """A depth-3 decision tree, one group against the rest, on the features' own values,
    written as ``any`` of the ``all`` paths to the leaves where the group is the majority
    (the single purest leaf when there is none). Conditions on the same feature along a path
    keep the tightest bound."""
    if len(raw) > TREE_SAMPLE:  # a depth-3 tree needs no more; the figures use every row
        pick = np.random.default_rng(seed).choice(len(raw), TREE_SAMPLE, replace=False)
        raw, inside = raw[pick], inside[pick]
    x = np.where(np.isnan(raw), np.nanmedian(raw, axis=0), raw)
    tree = DecisionTreeClassifier(max_depth=TREE_DEPTH, random_state=seed).fit(x, inside)
    t = tree.tree_
    positive = list(tree.classes_).index(True) if True in tree.classes_ else None
    if positive is None:  # a group too rare to appear in the tree's sample
        return None
    paths: list[tuple[float, list[tuple[int, str, float]]]] = []

    def walk(node: int, path: list[tuple[int, str, float]]) -> None:
        if t.children_left[node] == t.children_right[node]:  # a leaf
            counts = t.value[node][0]
            paths.append((float(counts[positive] / counts.sum()), path))
            return
        j, threshold = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), [*path, (j, "<=", threshold)])
        walk(int(t.children_right[node]), [*path, (j, ">", threshold)])

    walk(0, [])
    chosen = [p for share, p in paths if share > 0.5] or [max(paths, key=lambda sp: sp[0])[1]]
    branches = []
    for path in chosen:
        upper: dict[int, float] = {}
        lower: dict[int, float] = {}
        for j, op, threshold in path:
            if op == "<=":
                upper[j] = min(upper.get(j, threshold), threshold)
            else:
                lower[j] = max(lower.get(j, threshold), threshold)
        conditions = [_bound(names[j], ">", v, types[j]) for j, v in sorted(lower.items())]
        conditions += [_bound(names[j], "<=", v, types[j]) for j, v in sorted(upper.items())]
        branches.append({"all": conditions})
    return branches[0] if len(branches) == 1 else {"any": branches}


def rule_mask(rule: dict[str, Any], raw: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Who a discovered rule (``any``/``all`` of ``<=``/``>`` conditions) selects, with the
    segment language's meaning of a missing value: it meets no comparison."""
    if "all" in rule:
        out = np.ones(len(raw), dtype=bool)
        for part in rule["all"]:
            out &= rule_mask(part, raw, names)
        return out
    if "any" in rule:
        out = np.zeros(len(raw), dtype=bool)
        for part in rule["any"]:
            out |= rule_mask(part, raw, names)
        return out
    column = raw[:, list(names).index(rule["field"])]
    with np.errstate(invalid="ignore"):
        if rule["op"] == "<=":
            return column <= rule["value"]
        return column > rule["value"]


def _group_rule(
    raw: np.ndarray,
    inside: np.ndarray,
    names: Sequence[str],
    types: Sequence[str],
    fields: Catalogue,
    seed: int,
) -> GroupRule | None:
    rule = tree_rule(raw, inside, names, types, seed)
    if rule is None:
        return None
    selected = rule_mask(rule, raw, names)
    hits = int((selected & inside).sum())
    precision = hits / int(selected.sum()) if selected.any() else 0.0
    recall = hits / int(inside.sum()) if inside.any() else 0.0
    return GroupRule(
        rule=rule,
        precision=round(precision, 3),
        recall=round(recall, 3),
        errors=tuple(validate(rule, fields)),
    )


def discover(
    features: pa.Table,
    catalogue: Catalogue | Iterable[Any],
    *,
    k: int | None = None,
    seed: int = 0,
    min_group_size: int = 5,
    names: Sequence[str] | None = None,
) -> Discovery:
    """Groups of patrons in ``features`` (one row per ``patron_key``): the chosen features
    (``names``, default :func:`discovery_features`) with counts log1p'd, standardised, and
    k-means with ``k`` groups (by default the k in 3..10 with the best silhouette on a
    sample). Groups under ``min_group_size`` patrons are not described (k-anonymity)."""
    started = time.perf_counter()
    fields = catalogue if isinstance(catalogue, dict) else catalogue_of(catalogue)
    if k is not None and not 2 <= k <= 50:
        raise DiscoveryError(f"k: {k} groups is outside 2..50")
    wanted = list(names) if names is not None else discovery_features(fields)
    unknown = [n for n in wanted if n not in fields]
    if unknown:
        raise DiscoveryError(f"names: unknown features {', '.join(unknown)}")
    types = {n: fields[n].type for n in wanted}
    raw, kept = _matrix(features, wanted, types)
    kinds = [types[n] for n in kept]
    if len(raw) < max(3, (k or 3) + 1):
        raise DiscoveryError(f"features: {len(raw)} patrons are too few to form groups")
    z = StandardScaler().fit_transform(_transform(raw, kinds))
    silhouettes: dict[int, float] = {}
    start = None
    if k is None:
        k, silhouettes, start = _choose_k(z, seed)
    clusters, _ = _cluster(z, k, seed, start)
    corr = np.nan_to_num(np.corrcoef(z, rowvar=False))
    sizes = np.bincount(clusters, minlength=k)
    order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] >= max(min_group_size, 1)]
    labels = np.zeros(len(raw), dtype=int)
    groups = []
    for number, c in enumerate(order, start=1):
        inside = clusters == c
        labels[inside] = number
        centroid = np.nanmean(raw[inside], axis=0)
        groups.append(
            DiscoveredGroup(
                number=number,
                size=int(sizes[c]),
                centroid={n: round(float(v), 4) for n, v in zip(kept, centroid, strict=True)},
                distinctions=_distinctions(z, raw, inside, kept, fields, corr),
                rule=_group_rule(raw, inside, kept, kinds, fields, seed)
                if inside.sum() < len(raw)
                else None,
            )
        )
    return Discovery(
        patron_keys=features.column("patron_key").to_pylist(),
        labels=labels,
        clusters=clusters,
        features=kept,
        k=k,
        groups=groups,
        suppressed=int((labels == 0).sum()),
        silhouettes=silhouettes,
        seconds=time.perf_counter() - started,
    )


def random_baseline(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The same group sizes, shuffled over the patrons: what any score is measured beside."""
    return np.random.default_rng(seed).permutation(labels)
