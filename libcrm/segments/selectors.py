"""Reads of tags and segments: the catalogue a rule may name, the rules as they run (parents
ANDed in), the profile they run on, snapshot members and why a patron is in a segment."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from libcrm.features.definitions import FEATURES
from libcrm.features.selectors import feature_provenance, feature_table
from libcrm.features.services import library_today
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
    """The fields a rule may name: the behavioural features of :mod:`libcrm.features`."""
    return catalogue_of(FEATURES)


def profile_table() -> pa.Table:
    """The profile rules run on: one row per patron_key (the stored feature table)."""
    return feature_table()


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
    rows = run(compiled, profile_table(), engine="duckdb", patron_key=patron_key).to_pylist()
    return _reasons(compiled, rows[0], catalogue) if rows else None


def segments_of(patron_key: str) -> list[dict[str, Any]]:
    """Every tag and segment ``patron_key`` is in now, each with its reasons (for the
    patron's page). A segment a catalogue change has broken is left out; its own page and
    ``libcrm segments check`` say what is wrong."""
    table = profile_table()
    row = table.filter(pc.equal(table.column("patron_key"), patron_key))
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
