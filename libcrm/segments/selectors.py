"""Reads of tags and segments: the catalogue a rule may name, the rules as they run (parents
ANDed in), the profile they run on, snapshot members and why a patron is in a segment."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db.models import Count, Max, Sum
from duckdb import CoalesceOperator, ColumnExpression, ConstantExpression

from libcrm.features.definitions import FEATURE_SCHEMA, FEATURES, FeatureType
from libcrm.features.selectors import feature_provenance, feature_table, feature_table_version
from libcrm.features.services import library_today
from libcrm.patrons.models import Branch, Department, Patron, PatronStatus
from libcrm.segments.attributes import (
    ATTRIBUTES,
    attribute_columns,
    score_columns,
)
from libcrm.segments.compiler import CompiledRule, compile_rule
from libcrm.segments.evaluate import run
from libcrm.segments.models import Segment, SegmentSnapshot
from libcrm.segments.rules import (
    Catalogue,
    InvalidRule,
    Resolver,
    catalogue_of,
    effective_rule,
)
from libcrm.segments.storage import read_members


def segments_folder() -> Path:
    """Where snapshot member files live (derived data beside the feature table)."""
    return Path(settings.LIBCRM_DATA_DIR).resolve() / "segments"


def segment_catalogue() -> Catalogue:
    """The fields a rule may name: the patron attributes of :mod:`.attributes` (category,
    discipline, age band, …, the engagement scores) and the behavioural features of
    :mod:`libcrm.features`."""
    return {**catalogue_of(ATTRIBUTES), **catalogue_of(FEATURES)}


INACTIVE_STATUSES = (PatronStatus.MERGED, PatronStatus.CLOSED)
_COUNTS = tuple(
    f.name for f in FEATURES if f.type is FeatureType.INT and f.name != "days_since_last"
)
"""Features that count something: 0 for a patron without activity (others stay empty)."""
PROFILE_SCHEMA = pa.schema(
    [pa.field("patron_key", pa.string(), nullable=False), pa.field("as_of", pa.date32())]
    + [pa.field(a.name, a.arrow_type) for a in ATTRIBUTES]
    + [f for f in FEATURE_SCHEMA if f.name not in ("patron_key", "as_of")]
)


_profile_cache: tuple[tuple[Any, ...], pa.Table] | None = None
_profile_guard = threading.Lock()


def registry_fingerprint() -> tuple[Any, ...]:
    """A value that changes whenever the registry side of the profile may have: how many
    patrons there are, which, and the last change to any of them (every write to a patron
    sets ``updated_at``, bulk ones included), and the departments and branches the profile
    reads (small tables, taken whole). One aggregate query over the patrons."""
    patrons = Patron.objects.aggregate(n=Count("pk"), ids=Sum("pk"), last=Max("updated_at"))
    departments = tuple(Department.objects.order_by("pk").values_list("pk", "code", "discipline"))
    branches = tuple(Branch.objects.order_by("pk").values_list("pk", "code"))
    return (patrons["n"], patrons["ids"], patrons["last"], departments, branches)


def profile_table(patron_key: str | None = None) -> pa.Table:
    """The profile rules run on: one row per active patron of the registry (not merged or
    closed), in key order — the pseudonymous key, the patron's attributes (never a name) and
    the stored features (counts 0 and the rest empty for a patron without activity).
    ``patron_key`` narrows it to that patron's row (none when they are not active).

    The whole profile is kept between calls while the feature table, the registry
    (:func:`registry_fingerprint`) and the as-of date are unchanged: building it joins every
    active patron with the features (seconds at a hundred thousand patrons), and a live count
    in the rule builder asks for it on every edit."""
    if patron_key is not None:
        return _build_profile(patron_key)
    global _profile_cache
    key = (profile_as_of(), feature_table_version(), registry_fingerprint())
    with _profile_guard:
        cached = _profile_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    table = _build_profile(None)
    with _profile_guard:
        _profile_cache = (key, table)
    return table


def _build_profile(patron_key: str | None) -> pa.Table:
    as_of = profile_as_of()
    patrons = Patron.objects.exclude(status__in=INACTIVE_STATUSES)
    if patron_key is not None:
        patrons = patrons.filter(patron_key=patron_key)
    rows = [
        {
            "patron_key": r["patron_key"],
            "category": r["category"],
            "department": r["department__code"],
            "discipline": r["discipline"] or r["department__discipline"],
            "birth_year": r["birth_year"],
            "gender": r["gender"],
            "home_branch": r["home_branch__code"],
            "registered_on": r["registered_on"],
        }
        for r in patrons.order_by("patron_key").values(
            "patron_key",
            "category",
            "department__code",
            "discipline",
            "department__discipline",
            "birth_year",
            "gender",
            "home_branch__code",
            "registered_on",
        )
    ]
    attributes = pa.table(attribute_columns(rows, as_of))
    features = feature_table()
    if patron_key is not None:
        features = features.filter(pc.equal(features.column("patron_key"), patron_key))
    if features.num_rows == 0:
        features = FEATURE_SCHEMA.empty_table()
    con = duckdb.connect()
    try:
        registry = con.from_arrow(attributes).set_alias("r")
        stored = con.from_arrow(features).set_alias("f")
        picks = [ColumnExpression(f"r.{name}") for name in attributes.column_names]
        for f in FEATURES:
            column = ColumnExpression(f"f.{f.name}")
            if f.name in _COUNTS:
                column = CoalesceOperator(column, ConstantExpression(0))
            picks.append(column.alias(f.name))
        joined = (
            registry.join(stored, "r.patron_key = f.patron_key", "left")
            .select(*picks)
            .order("patron_key")
            .to_arrow_table()
        )
    finally:
        con.close()
    scores = score_columns(
        joined.column("days_since_last").to_pylist(), joined.column("all_days_90d").to_pylist()
    )
    columns = {name: joined.column(name) for name in joined.column_names}
    columns["as_of"] = pa.array([as_of] * joined.num_rows, pa.date32())
    columns.update(scores)
    return pa.table([columns[f.name].cast(f.type) for f in PROFILE_SCHEMA], schema=PROFILE_SCHEMA)


def profile_as_of() -> date:
    """The day the profile's windows end on (today before the first refresh)."""
    provenance = feature_provenance()
    return provenance.as_of_date if provenance is not None else library_today()


def stored_rules() -> dict[str, dict[str, Any]]:
    """slug → the rule each segment runs (its current version, its parent's membership
    ANDed in); segments without a version are left out."""
    out: dict[str, dict[str, Any]] = {}
    for slug, parent, rule in Segment.objects.filter(current_version__isnull=False).values_list(
        "slug", "parent__slug", "current_version__rule"
    ):
        out[slug] = effective_rule(rule, parent)
    return out


def rule_resolver(overrides: dict[str, dict[str, Any]] | None = None) -> Resolver:
    """A resolver over the stored rules (read once), with ``overrides`` taking precedence."""
    rules = stored_rules()
    rules.update(overrides or {})
    return rules.get


def members_of(snapshot: SegmentSnapshot) -> pa.Table:
    """A snapshot's members with their reasons, in key order."""
    return read_members(segments_folder() / snapshot.members_file)


def why_member(segment: Segment, patron_key: str) -> list[dict[str, Any]] | None:
    """Why ``patron_key`` is in ``segment`` now: each condition (also those of parent and
    referenced segments) with whether it held and the patron's value; None when the patron is
    not a member."""
    if segment.current_version is None:
        return None
    catalogue = segment_catalogue()
    compiled = _compiled(segment, catalogue, rule_resolver(), profile_as_of())
    rows = run(compiled, profile_table(patron_key), engine="duckdb", patron_key=patron_key)
    rows = rows.to_pylist()
    return _reasons(compiled, rows[0], catalogue) if rows else None


def segments_of(patron_key: str) -> list[dict[str, Any]]:
    """Every tag and segment ``patron_key`` is in now, each with its reasons (for the
    patron's page). A segment a catalogue change has broken is left out; its own page and
    ``libcrm segments check`` say what is wrong."""
    row = profile_table(patron_key)
    if row.num_rows == 0:
        return []
    catalogue, resolve, as_of = segment_catalogue(), rule_resolver(), profile_as_of()
    out = []
    con = duckdb.connect()
    try:
        segments = Segment.objects.filter(current_version__isnull=False).select_related(
            "parent", "current_version"
        )
        for segment in segments:
            try:
                compiled = _compiled(segment, catalogue, resolve, as_of)
            except InvalidRule:
                continue
            rows = run(compiled, row, connection=con).to_pylist()
            if rows:
                out.append({"segment": segment, "reasons": _reasons(compiled, rows[0], catalogue)})
    finally:
        con.close()
    return out


def _compiled(
    segment: Segment, catalogue: Catalogue, resolve: Resolver, as_of: date
) -> CompiledRule:
    assert segment.current_version is not None
    parent = segment.parent.slug if segment.parent_id else None
    rule = effective_rule(segment.current_version.rule, parent)
    return compile_rule(rule, catalogue, as_of, resolve, slug=segment.slug)


def _reasons(
    compiled: CompiledRule, row: dict[str, Any], catalogue: Catalogue
) -> list[dict[str, Any]]:
    return [
        {
            "field": leaf.field,
            "label": catalogue[leaf.field].label,
            "label_zh": catalogue[leaf.field].label_zh,
            "op": leaf.op,
            "value": leaf.value,
            "held": row[leaf.column],
            "actual": row[leaf.field],
            "via": list(leaf.via),
            "path": leaf.path,
        }
        for leaf in compiled.leaves
    ]


def size_history(points: int = 12) -> dict[int, list[tuple[date, int]]]:
    """segment id → its sizes over time, one per as-of day (the day's latest snapshot), the
    last ``points`` days, oldest first. Raw counts: suppress before showing them."""
    out: dict[int, dict[date, int]] = {}
    rows = SegmentSnapshot.objects.order_by("segment_id", "-as_of", "-taken_at").values_list(
        "segment_id", "as_of", "size"
    )
    for segment_id, as_of, size in rows:
        days = out.setdefault(segment_id, {})
        if as_of not in days and len(days) < points:
            days[as_of] = size
    return {sid: sorted(days.items()) for sid, days in out.items()}
