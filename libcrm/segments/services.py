"""Writes of tags and segments: saving a definition (a new version when its rule changes) and
taking a dated snapshot of its members. Each checks everything first and saves nothing when
something is wrong, and each is audited (CHANGE_SEGMENT)."""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.segments import selectors
from libcrm.segments.compiler import compile_rule
from libcrm.segments.errors import SegmentError
from libcrm.segments.evaluate import run
from libcrm.segments.models import Segment, SegmentSnapshot, SegmentVersion
from libcrm.segments.rules import InvalidRule, RuleError, effective_rule, validate
from libcrm.segments.storage import read_members, write_members

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_RESERVED = {"new", "count", "discover"}  # page addresses under /segments/


def _problems(slug: str, name_en: str, name_zh: str, kind: str) -> list[RuleError]:
    out = []
    if not _SLUG.match(slug or "") or slug in _RESERVED:
        out.append(RuleError("slug", "bad_identifier", {"value": slug}))
    for field, value in (("name_en", name_en), ("name_zh", name_zh)):
        if not (value or "").strip():
            out.append(RuleError(field, "required", {}))
        elif len(value) > 200:
            out.append(RuleError(field, "too_long", {"max": 200}))
    if kind not in Segment.Kind.values:
        out.append(RuleError("kind", "bad_kind", {"value": kind}))
    return out


def save_segment(
    actor: Actor,
    *,
    slug: str,
    name_en: str,
    name_zh: str,
    rule: Any,
    kind: str = Segment.Kind.SEGMENT,
    description: str = "",
    parent: str | None = None,
) -> Segment:
    """Creates or changes the tag or segment ``slug``. The rule is checked against the
    feature catalogue and the stored segments (unknown names, types, windows, limits, cycles
    through references or parents); on any problem :class:`SegmentError` lists them all and
    nothing is saved. A changed rule becomes a new version; an unchanged one keeps its own."""
    errors = _problems(slug, name_en, name_zh, kind)
    with transaction.atomic():
        existing = Segment.objects.select_for_update().filter(slug=slug).first()
        errors += validate(
            rule,
            selectors.segment_catalogue(),
            selectors.rule_resolver(),
            slug=slug,
            parent=parent or None,
        )
        if errors:
            raise SegmentError(errors)
        parent_segment = Segment.objects.get(slug=parent) if parent else None
        created = existing is None
        segment = existing or Segment(slug=slug)
        segment.name_en, segment.name_zh = name_en.strip(), name_zh.strip()
        segment.kind, segment.description = kind, description
        segment.parent = parent_segment
        segment.save()
        current = segment.current_version
        if current is None or current.rule != rule:
            number = (current.number if current is not None else 0) + 1
            current = SegmentVersion.objects.create(
                segment=segment,
                number=number,
                rule=rule,
                created_by_id=actor.user_id,
                created_by_label=actor.label[:150],
            )
            segment.current_version = current
            segment.save(update_fields=["current_version", "updated_at"])
        record_audit_event(
            actor,
            AuditAction.CHANGE_SEGMENT,
            target=f"segment:{slug}",
            detail={"change": "created" if created else "saved", "version": current.number},
        )
    return segment


def take_snapshot(
    actor: Actor,
    segment: Segment,
    *,
    profile: pa.Table | None = None,
    as_of: date | None = None,
    engine: str | None = None,
) -> SegmentSnapshot:
    """Counts ``segment``'s members on the profile (default: the stored feature table, as of
    its refresh day) with its current rule, keeps them with their reasons in a Parquet file
    and records the snapshot's size."""
    version = segment.current_version
    if version is None:
        raise SegmentError([RuleError("segment", "no_rule", {"slug": segment.slug})])
    day = as_of or selectors.profile_as_of()
    parent = segment.parent.slug if segment.parent_id else None
    rule = effective_rule(version.rule, parent)
    try:
        compiled = compile_rule(
            rule, selectors.segment_catalogue(), day, selectors.rule_resolver(), slug=segment.slug
        )
    except InvalidRule as e:
        raise SegmentError(e.errors) from e
    engine_name = engine or settings.LIBCRM_ANALYTICS_ENGINE
    source = profile if profile is not None else selectors.profile_table()
    members = run(compiled, source, engine=engine_name)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    name = f"{day.isoformat()}-{stamp}-{secrets.token_hex(3)}.parquet"
    folder = selectors.segments_folder() / segment.slug
    path = write_members(folder, name, members)
    try:
        with transaction.atomic():
            snapshot = SegmentSnapshot.objects.create(
                segment=segment,
                version=version,
                as_of=day,
                size=members.num_rows,
                engine=engine_name,
                members_file=f"{segment.slug}/{name}",
            )
            record_audit_event(
                actor,
                AuditAction.CHANGE_SEGMENT,
                target=f"segment:{segment.slug}",
                detail={"change": "snapshot", "version": version.number, "size": members.num_rows},
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return snapshot


def drop_patron_from_snapshots(patron_key: str) -> int:
    """Removes an erased patron's key from every snapshot's member file (each rewritten
    atomically); returns how many files held it. Sizes stay as counted on their day: they
    are aggregates, not personal data."""
    import pyarrow.compute as pc

    folder = selectors.segments_folder()
    changed = 0
    for relative in SegmentSnapshot.objects.values_list("members_file", flat=True):
        path = folder / relative
        if not path.exists():
            continue
        members = read_members(path)
        keep = pc.not_equal(members.column("patron_key"), patron_key)
        if pc.all(keep).as_py():
            continue
        write_members(path.parent, path.name, members.filter(keep))
        changed += 1
    return changed


def install_starter_set(actor: Actor) -> list[Segment]:
    """Saves the built-in tags and segments (:mod:`libcrm.segments.starter`) that are not
    there yet; those a library already has, edited or not, are left as they are."""
    from libcrm.segments.starter import STARTER

    existing = set(Segment.objects.values_list("slug", flat=True))
    saved = []
    for s in STARTER:
        if s.slug in existing:
            continue
        saved.append(
            save_segment(
                actor,
                slug=s.slug,
                name_en=s.name_en,
                name_zh=s.name_zh,
                rule=s.rule,
                kind=s.kind,
                description=s.description,
                parent=s.parent,
            )
        )
    return saved
