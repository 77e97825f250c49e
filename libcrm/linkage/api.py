"""Identity linkage over HTTP: /api/v1/linkage — the review queue, decisions, merges, unmerges.

A thin adapter around :mod:`libcrm.linkage.services`; every operation needs the
``linkage:review`` scope. Pairs are named by the patrons' UUIDs and pseudonymous keys, never by
personal data; a client that needs names reads the patrons with ``patrons:read`` (audited).
Refusals (a merge into itself, a chain, an unmerge of a merge already undone) answer 409 with a
stable ``code``; nothing is changed.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from libcrm.api.auth import TokenAuth, token_actor
from libcrm.api.errors import ApiError
from libcrm.api.models import Scope
from libcrm.api.schemas import ERROR_RESPONSES, WRITE_ERROR_RESPONSES
from libcrm.linkage.errors import LinkageError
from libcrm.linkage.models import CandidateStatus, MatchCandidate, Merge
from libcrm.linkage.selectors import review_queue
from libcrm.linkage.services import decide_candidate, merge_patrons, unmerge_patrons
from libcrm.patrons.models import Patron

router = Router()
MAX_PAGE = 200


class PatronRef(Schema):
    uuid: UUID
    patron_key: str


class EvidenceOut(Schema):
    comparison: str
    level: str
    agrees: bool | None = None
    weight: float


class CandidateOut(Schema):
    id: int
    left: PatronRef
    right: PatronRef
    source: str
    status: str
    match_probability: float | None
    match_weight: float | None
    evidence: list[EvidenceOut]
    proposed_at: datetime
    decided_at: datetime | None


class CandidatePage(Schema):
    count: int
    results: list[CandidateOut]


class QueueQuery(Schema):
    status: str = Field(
        CandidateStatus.PENDING.value, description="pending, accepted, rejected or obsolete"
    )
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


class DecisionIn(Schema):
    same_person: bool
    survivor: UUID | None = Field(None, description="with same_person: the record to keep")
    note: str = Field("", max_length=500)


class MergeIn(Schema):
    survivor: UUID
    merged: UUID
    reason: str = Field(..., min_length=1, max_length=500)


class UnmergeIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class MergeOut(Schema):
    id: int
    survivor: PatronRef
    merged: PatronRef
    at: datetime
    undone_at: datetime | None
    moved: dict[str, int]


def _ref(patron: Patron) -> PatronRef:
    return PatronRef(uuid=patron.uuid, patron_key=patron.patron_key)


def _candidate_out(c: MatchCandidate) -> CandidateOut:
    return CandidateOut(
        id=c.pk,
        left=_ref(c.left),
        right=_ref(c.right),
        source=c.source,
        status=c.status,
        match_probability=c.match_probability,
        match_weight=c.match_weight,
        evidence=[
            EvidenceOut(
                comparison=str(e.get("comparison", "")),
                level=str(e.get("level", "")),
                agrees=e.get("agrees"),
                weight=float(e.get("weight") or 0.0),
            )
            for e in (c.evidence or [])
        ],
        proposed_at=c.proposed_at,
        decided_at=c.decided_at,
    )


def _merge_out(m: Merge) -> MergeOut:
    moved = {r["model"]: len(r["pks"]) for r in m.moves.get("rows", []) if r["pks"]}
    return MergeOut(
        id=m.pk, survivor=_ref(m.survivor), merged=_ref(m.merged), at=m.at,
        undone_at=m.undone_at, moved=moved,
    )  # fmt: skip


def _refused(exc: LinkageError) -> ApiError:
    status = 404 if exc.code == "not_found" else 409
    return ApiError(status, exc.code, exc.message)


def _patron(uuid: UUID, field: str) -> Patron:
    patron = Patron.objects.filter(uuid=uuid).first()
    if patron is None:
        raise ApiError(404, "not_found", f"No patron {uuid} ({field}).")
    return patron


@router.get(
    "/candidates",
    auth=TokenAuth(Scope.LINKAGE_REVIEW),
    response={200: CandidatePage, **ERROR_RESPONSES},
    summary="List possible duplicates",
)
def list_candidates(request: HttpRequest, query: Query[QueueQuery]) -> CandidatePage:
    """Needs `linkage:review`. The review queue (by default the pending pairs), most probable
    first."""
    if query.status not in CandidateStatus.values:
        raise ApiError(422, "invalid", f"status must be one of {', '.join(CandidateStatus.values)}")
    rows = review_queue(query.status)
    page = rows[query.offset : query.offset + query.limit]
    return CandidatePage(count=rows.count(), results=[_candidate_out(c) for c in page])


@router.post(
    "/candidates/{candidate_id}/decision",
    auth=TokenAuth(Scope.LINKAGE_REVIEW),
    response={200: CandidateOut, **WRITE_ERROR_RESPONSES},
    summary="Decide a possible duplicate",
)
def decide(request: HttpRequest, candidate_id: int, payload: DecisionIn) -> CandidateOut:
    """Needs `linkage:review`. `same_person: true` merges into `survivor` (one of the two);
    `false` is remembered so the pair is not proposed again. A pair already decided answers
    409 `already_decided`."""
    candidate = (
        MatchCandidate.objects.select_related("left", "right").filter(pk=candidate_id).first()
    )
    if candidate is None:
        raise ApiError(404, "not_found", f"No candidate pair {candidate_id}.")
    survivor = _patron(payload.survivor, "survivor") if payload.survivor else None
    try:
        decided = decide_candidate(
            token_actor(request), candidate, same_person=payload.same_person,
            survivor=survivor, note=payload.note,
        )  # fmt: skip
    except LinkageError as exc:
        raise _refused(exc) from exc
    return _candidate_out(decided)


@router.post(
    "/merges",
    auth=TokenAuth(Scope.LINKAGE_REVIEW),
    response={201: MergeOut, **WRITE_ERROR_RESPONSES},
    summary="Merge two patrons",
)
def create_merge(request: HttpRequest, payload: MergeIn) -> Status:
    """Needs `linkage:review`. Folds `merged` into `survivor`; 409 `self_merge`,
    `merge_chain` or `reason_required` when refused."""
    survivor, merged = _patron(payload.survivor, "survivor"), _patron(payload.merged, "merged")
    try:
        merge = merge_patrons(token_actor(request), survivor, merged, reason=payload.reason)
    except LinkageError as exc:
        raise _refused(exc) from exc
    return Status(201, _merge_out(merge))


@router.post(
    "/merges/{merge_id}/unmerge",
    auth=TokenAuth(Scope.LINKAGE_REVIEW),
    response={200: MergeOut, **WRITE_ERROR_RESPONSES},
    summary="Undo a merge",
)
def undo_merge(request: HttpRequest, merge_id: int, payload: UnmergeIn) -> MergeOut:
    """Needs `linkage:review`. Restores both patrons exactly; 409 `not_merged` for a merge
    already undone."""
    merge = Merge.objects.select_related("survivor", "merged").filter(pk=merge_id).first()
    if merge is None:
        raise ApiError(404, "not_found", f"No merge {merge_id}.")
    try:
        merge = unmerge_patrons(token_actor(request), merge, reason=payload.reason)
    except LinkageError as exc:
        raise _refused(exc) from exc
    return _merge_out(merge)
