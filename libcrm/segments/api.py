"""Tags and segments over HTTP: /api/v1/segments — definitions, live counts, snapshots, members.

A thin adapter around :mod:`libcrm.segments.services` and :mod:`libcrm.segments.selectors`.
Reading (``segments:read``) gives rules, versions and sizes; sizes from 1 to k−1 (k =
``LIBCRM_MIN_GROUP_SIZE``) are never given exactly (``size`` is null and ``fewer_than`` is k).
Members are named by their pseudonymous ``patron_key`` only, never by name or identifier, so an
analyst's token can follow a segment without seeing who is in it. Defining (``segments:write``)
checks the rule first: every problem answers 422 with its place in the request
(``body.rule.all[2].value``) and a message in the language of Accept-Language, and nothing is
saved.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from libcrm.api.auth import TokenAuth, token_actor
from libcrm.api.errors import ApiError, FieldError, invalid
from libcrm.api.models import Scope
from libcrm.api.schemas import ERROR_RESPONSES, WRITE_ERROR_RESPONSES
from libcrm.segments import selectors, services
from libcrm.segments.compiler import CompiledRule, compile_rule
from libcrm.segments.errors import SegmentError
from libcrm.segments.evaluate import run
from libcrm.segments.models import Segment, SegmentSnapshot
from libcrm.segments.rules import InvalidRule, RuleError, effective_rule, validate

router = Router()
MAX_PAGE = 500


# --- schemas -------------------------------------------------------------------------------


class SizeOut(Schema):
    size: int | None = Field(
        description="How many patrons; null when there are fewer than `fewer_than` (but some)."
    )
    fewer_than: int | None = Field(
        None, description="Set (to k) when the size is from 1 to k−1 and so is not given."
    )


class SnapshotOut(SizeOut):
    id: int
    as_of: date = Field(description="The feature table's day the members were counted on.")
    taken_at: datetime
    version: int = Field(description="The version of the rule that was counted.")
    engine: str


class VersionOut(Schema):
    number: int
    rule: dict[str, Any]
    created_by: str
    created_at: datetime


class SegmentOut(Schema):
    slug: str
    name_en: str
    name_zh: str
    kind: str = Field(description="tag or segment")
    description: str
    parent: str | None = Field(description="The slug of the parent segment, if any.")
    version: int | None = Field(description="The number of the current version of the rule.")
    latest_snapshot: SnapshotOut | None
    updated_at: datetime


class SegmentDetailOut(SegmentOut):
    rule: dict[str, Any] | None = Field(description="The current rule (see docs/segments.md).")
    versions: list[VersionOut] = Field(description="Every version of the rule, newest first.")
    children: list[str]


class SegmentPage(Schema):
    count: int
    results: list[SegmentOut]


class SegmentIn(Schema):
    name_en: str = Field(..., max_length=200)
    name_zh: str = Field(..., max_length=200)
    kind: Segment.Kind = Segment.Kind.SEGMENT
    description: str = Field("", max_length=2000)
    parent: str | None = Field(None, max_length=80, description="The parent segment's slug.")
    rule: dict[str, Any] = Field(
        ...,
        description='The rule, e.g. {"all": [{"field": "loans_events_365d", "op": ">=", '
        '"value": 5}]}; see docs/segments.md.',
    )


class SegmentCreateIn(SegmentIn):
    slug: str = Field(..., max_length=80, description="Lower-case letters, digits and hyphens.")


class CountIn(Schema):
    rule: dict[str, Any]
    parent: str | None = Field(None, max_length=80)
    slug: str | None = Field(
        None, max_length=80, description="The segment the rule is for, so cycles are found."
    )


class CountOut(SizeOut):
    as_of: date


class SnapshotPage(Schema):
    count: int
    results: list[SnapshotOut]


class ReasonOut(Schema):
    field: str | None
    op: str | None
    value: Any = None
    held: bool
    actual: Any = Field(None, description="The member's value of the field on that day.")
    via: list[str] = Field(description="The segments the condition came through (parents…).")
    path: str | None = Field(description="Where the condition is written in its rule.")


class MemberOut(Schema):
    patron_key: str = Field(description="Pseudonymous; never a name or an identifier.")
    reasons: list[ReasonOut]


class MemberPage(Schema):
    snapshot: SnapshotOut
    count: int
    limit: int
    offset: int
    results: list[MemberOut]


class PageQuery(Schema):
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


# --- helpers -------------------------------------------------------------------------------


def _lang() -> str:
    return "zh" if (get_language() or "").lower().startswith("zh") else "en"


def _size(count: int) -> dict[str, int | None]:
    k = settings.LIBCRM_MIN_GROUP_SIZE
    if 0 < count < k:
        return {"size": None, "fewer_than": k}
    return {"size": count, "fewer_than": None}


def request_path(path: str, *, slug_in: str = "body") -> str:
    """A rule problem's place as a request path: ``/all/2/value`` → ``body.rule.all[2].value``;
    a definition's field (``name_en``, ``parent``) → ``body.name_en``."""
    if path and not path.startswith("/"):
        return f"{slug_in}.{path}" if path == "slug" else f"body.{path}"
    out = "body.rule"
    for part in path.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        out += f"[{key}]" if key.isdigit() else f".{key}"
    return out


def _refused(errors: list[RuleError], *, slug_in: str = "body") -> ApiError:
    lang = _lang()
    return invalid(
        FieldError(request_path(e.path, slug_in=slug_in), e.as_dict(lang)["message"])
        for e in errors
    )


def _snapshot_out(s: SegmentSnapshot) -> SnapshotOut:
    return SnapshotOut(
        id=s.pk, as_of=s.as_of, taken_at=s.taken_at, version=s.version.number, engine=s.engine,
        **_size(s.size),
    )  # fmt: skip


def _latest(segment: Segment) -> SnapshotOut | None:
    snaps = getattr(segment, "latest", None)
    if snaps is None:
        snaps = list(segment.snapshots.select_related("version").order_by("-taken_at")[:1])
    return _snapshot_out(snaps[0]) if snaps else None


def _segment_fields(segment: Segment) -> dict[str, Any]:
    version = segment.current_version
    return {
        "slug": segment.slug,
        "name_en": segment.name_en,
        "name_zh": segment.name_zh,
        "kind": segment.kind,
        "description": segment.description,
        "parent": segment.parent.slug if segment.parent_id else None,
        "version": version.number if version else None,
        "latest_snapshot": _latest(segment),
        "updated_at": segment.updated_at,
    }


def _detail(segment: Segment) -> SegmentDetailOut:
    version = segment.current_version
    return SegmentDetailOut(
        **_segment_fields(segment),
        rule=version.rule if version else None,
        versions=[
            VersionOut(
                number=v.number,
                rule=v.rule,
                created_by=v.created_by_label,
                created_at=v.created_at,
            )
            for v in segment.versions.order_by("-number")
        ],
        children=list(segment.children.values_list("slug", flat=True)),
    )


def _segment(slug: str) -> Segment:
    segment = Segment.objects.select_related("parent", "current_version").filter(slug=slug).first()
    if segment is None:
        raise ApiError(404, "not_found", _("No tag or segment %(slug)s.") % {"slug": slug})
    return segment


def _save(request: HttpRequest, slug: str, payload: SegmentIn, *, slug_in: str) -> Segment:
    try:
        return services.save_segment(
            token_actor(request),
            slug=slug,
            name_en=payload.name_en,
            name_zh=payload.name_zh,
            rule=payload.rule,
            kind=payload.kind.value,
            description=payload.description,
            parent=payload.parent or None,
        )
    except SegmentError as exc:
        raise _refused(exc.errors, slug_in=slug_in) from exc


def _reasons(compiled: CompiledRule | None, row: dict[str, Any]) -> list[ReasonOut]:
    if compiled is not None and all(leaf.column in row for leaf in compiled.leaves):
        return [
            ReasonOut(
                field=leaf.field,
                op=leaf.op,
                value=leaf.value,
                held=bool(row[leaf.column]),
                actual=row.get(leaf.field),
                via=list(leaf.via),
                path=leaf.path,
            )
            for leaf in compiled.leaves
        ]
    # The rules the snapshot counted with can no longer be compiled (a referenced segment or
    # the catalogue changed): give each condition's outcome as it was kept.
    columns = sorted((c for c in row if c[:1] == "c" and c[1:].isdigit()), key=lambda c: int(c[1:]))
    return [ReasonOut(field=None, op=None, held=bool(row[c]), via=[], path=None) for c in columns]


def _compiled_for(snapshot: SegmentSnapshot) -> CompiledRule | None:
    segment = snapshot.segment
    parent = segment.parent.slug if segment.parent_id else None
    try:
        return compile_rule(
            effective_rule(snapshot.version.rule, parent), selectors.segment_catalogue(),
            snapshot.as_of, selectors.rule_resolver(), slug=segment.slug,
        )  # fmt: skip
    except InvalidRule:
        return None


# --- operations ----------------------------------------------------------------------------


@router.get(
    "",
    auth=TokenAuth(Scope.SEGMENTS_READ),
    response={200: SegmentPage, **ERROR_RESPONSES},
    summary="List tags and segments",
)
def list_segments(request: HttpRequest) -> SegmentPage:
    """Needs `segments:read`. Every tag and segment with its current version and the size of
    its latest snapshot (sizes below k are not given), by slug."""
    latest = Prefetch(
        "snapshots",
        queryset=SegmentSnapshot.objects.select_related("version").order_by("-taken_at"),
        to_attr="latest",
    )
    segments = Segment.objects.select_related("parent", "current_version").prefetch_related(latest)
    results = [SegmentOut(**_segment_fields(s)) for s in segments]
    return SegmentPage(count=len(results), results=results)


@router.post(
    "",
    auth=TokenAuth(Scope.SEGMENTS_WRITE),
    response={201: SegmentDetailOut, **WRITE_ERROR_RESPONSES},
    summary="Define a new tag or segment",
)
def create_segment(request: HttpRequest, payload: SegmentCreateIn) -> Status:
    """Needs `segments:write`. 409 `exists` when the slug is taken (change it with PUT). A rule
    with problems answers 422 naming each at its place (`body.rule.all[2].value`); nothing is
    saved."""
    if Segment.objects.filter(slug=payload.slug).exists():
        raise ApiError(
            409, "exists",
            _("A tag or segment %(slug)s already exists; change it with PUT.")
            % {"slug": payload.slug},
        )  # fmt: skip
    segment = _save(request, payload.slug, payload, slug_in="body")
    return Status(201, _detail(_segment(segment.slug)))


@router.post(
    "/count",
    auth=TokenAuth(Scope.SEGMENTS_READ),
    response={200: CountOut, **ERROR_RESPONSES},
    summary="Count the patrons a rule matches, without saving it",
)
def count_rule(request: HttpRequest, payload: CountIn) -> CountOut:
    """Needs `segments:read`. How many patrons match `rule` (under `parent`, if given) on the
    current feature table; below k the size is not given. Problems answer 422 as when
    saving."""
    resolve = selectors.rule_resolver()
    parent = payload.parent or None
    errors = validate(
        payload.rule, selectors.segment_catalogue(), resolve, slug=payload.slug or None,
        parent=parent,
    )  # fmt: skip
    if errors:
        raise _refused(errors)
    as_of = selectors.profile_as_of()
    try:
        compiled = compile_rule(
            effective_rule(payload.rule, parent), selectors.segment_catalogue(), as_of, resolve,
            slug=payload.slug or None,
        )  # fmt: skip
    except InvalidRule as exc:
        raise _refused(exc.errors) from exc
    count = run(compiled, selectors.profile_table(), reasons=False).num_rows
    return CountOut(as_of=as_of, **_size(count))


@router.get(
    "/{slug}",
    auth=TokenAuth(Scope.SEGMENTS_READ),
    response={200: SegmentDetailOut, **ERROR_RESPONSES},
    summary="Read a tag or segment",
)
def read_segment(request: HttpRequest, slug: str) -> SegmentDetailOut:
    """Needs `segments:read`. Its names, current rule, every version (who, when, the rule),
    its children and the size of its latest snapshot."""
    return _detail(_segment(slug))


@router.put(
    "/{slug}",
    auth=TokenAuth(Scope.SEGMENTS_WRITE),
    response={200: SegmentDetailOut, 201: SegmentDetailOut, **WRITE_ERROR_RESPONSES},
    summary="Define or change a tag or segment",
)
def put_segment(request: HttpRequest, slug: str, payload: SegmentIn) -> Status:
    """Needs `segments:write`. Creates `slug` (201) or changes it (200); a changed rule becomes
    a new version, names and description alone do not. Problems answer 422 at their places
    (`body.rule.any[0].op`, `body.parent`, `path.slug`); nothing is saved."""
    created = not Segment.objects.filter(slug=slug).exists()
    segment = _save(request, slug, payload, slug_in="path")
    return Status(201 if created else 200, _detail(_segment(segment.slug)))


@router.post(
    "/{slug}/snapshots",
    auth=TokenAuth(Scope.SEGMENTS_WRITE),
    response={201: SnapshotOut, **WRITE_ERROR_RESPONSES},
    summary="Take a snapshot of a segment's members",
)
def take_segment_snapshot(request: HttpRequest, slug: str) -> Status:
    """Needs `segments:write`. Counts the members with the current rule on the feature table's
    day and keeps them with their reasons; answers the snapshot (size below k not given). 409
    `not_runnable` when the rule cannot run any more (a field left the catalogue)."""
    segment = _segment(slug)
    try:
        snapshot = services.take_snapshot(token_actor(request), segment)
    except SegmentError as exc:
        lang = _lang()
        message = "; ".join(e.message(lang) for e in exc.errors)
        raise ApiError(409, "not_runnable", message) from exc
    snapshot = SegmentSnapshot.objects.select_related("version").get(pk=snapshot.pk)
    return Status(201, _snapshot_out(snapshot))


@router.get(
    "/{slug}/snapshots",
    auth=TokenAuth(Scope.SEGMENTS_READ),
    response={200: SnapshotPage, **ERROR_RESPONSES},
    summary="A segment's size over time",
)
def list_segment_snapshots(request: HttpRequest, slug: str, page: Query[PageQuery]) -> SnapshotPage:
    """Needs `segments:read`. Its snapshots, newest first: day, version and size (below k not
    given)."""
    segment = _segment(slug)
    rows = segment.snapshots.select_related("version").order_by("-taken_at")
    window = rows[page.offset : page.offset + page.limit]
    return SnapshotPage(count=rows.count(), results=[_snapshot_out(s) for s in window])


@router.get(
    "/{slug}/members",
    auth=TokenAuth(Scope.SEGMENTS_READ),
    response={200: MemberPage, **WRITE_ERROR_RESPONSES},
    summary="The members of a segment's latest snapshot (pseudonymous keys)",
)
def list_segment_members(request: HttpRequest, slug: str, page: Query[PageQuery]) -> MemberPage:
    """Needs `segments:read`. The patrons of the latest snapshot by pseudonymous `patron_key`
    only, in key order, each with its reasons (every condition, whether it held, the value).
    409 `no_snapshot` before the first snapshot; 409 `too_few_members` when the snapshot has
    fewer than k members."""
    segment = _segment(slug)
    snapshot = (
        SegmentSnapshot.objects.select_related("version", "segment__parent")
        .filter(segment=segment)
        .order_by("-taken_at")
        .first()
    )
    if snapshot is None:
        raise ApiError(
            409, "no_snapshot", _("%(slug)s has no snapshot yet; take one first.") % {"slug": slug}
        )
    if _size(snapshot.size)["size"] is None:
        raise ApiError(
            409,
            "too_few_members",
            _("The latest snapshot has fewer than %(k)s members; they are not listed.")
            % {"k": settings.LIBCRM_MIN_GROUP_SIZE},
        )
    try:
        members = selectors.members_of(snapshot)
    except FileNotFoundError as exc:
        raise ApiError(
            409, "no_snapshot", _("The members file of this snapshot is missing.")
        ) from exc
    compiled = _compiled_for(snapshot)
    rows = members.slice(page.offset, page.limit).to_pylist()
    results = [MemberOut(patron_key=r["patron_key"], reasons=_reasons(compiled, r)) for r in rows]
    return MemberPage(
        snapshot=_snapshot_out(snapshot), count=members.num_rows, limit=page.limit,
        offset=page.offset, results=results,
    )  # fmt: skip
