"""Writes of identity linkage: linker runs, review decisions, merges and unmerges.

A merge keeps the *survivor* and folds the *merged* record into it: every row of another table
that points at the merged patron (identifiers, household guardianship, consents, portal
account, anything a later app adds) is re-pointed to the survivor — found generically through
``Patron._meta.related_objects`` so no app is forgotten — and the event store re-keys the
merged patron's events through an alias. :class:`~libcrm.linkage.models.Merge` lists every row
that moved, so an unmerge puts exactly those rows back and drops the alias: both patrons are
restored, events included. Rows that would break a uniqueness rule on the survivor (a second
portal account, a name term it already has) stay with the merged record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.events.services import merge_patron_events, unmerge_patron_events
from libcrm.linkage.engine import LinkSettings, link_records
from libcrm.linkage.errors import LinkageError
from libcrm.linkage.models import (
    CandidateSource,
    CandidateStatus,
    LinkRun,
    MatchCandidate,
    Merge,
)
from libcrm.linkage.records import patron_records
from libcrm.patrons.models import Patron, PatronStatus
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import AuditRecord, record_audit_event, record_audit_events
from libcrm.privacy.signals import patrons_merged, patrons_unmerged

logger = logging.getLogger(__name__)

#: Tables whose rows about a patron never change hands in a merge: linkage's own bookkeeping
#: (it names both records on purpose), and consents, which follow their own rule (below).
_NOT_MOVED = {"linkage.matchcandidate", "linkage.merge", "linkage.linkrun", "consent.consentrecord"}
MAX_REASON = 500


# --- merge and unmerge -----------------------------------------------------------------------


def merge_patrons(
    actor: Actor,
    survivor: Patron,
    merged: Patron,
    *,
    reason: str,
    candidate: MatchCandidate | None = None,
) -> Merge:
    """Fold ``merged`` into ``survivor``. Raises :class:`LinkageError` (nothing changed) for a
    merge of a record into itself, into or from a merged record, or one that would chain."""
    reason = (reason or "").strip()
    if not reason:
        raise LinkageError("reason_required", _("Say why these records are the same person."))
    rekeyed = False
    try:
        with transaction.atomic():
            survivor, merged = _lock_pair(survivor, merged)
            _check_mergeable(survivor, merged)
            moves = _move_rows(survivor, merged)
            moves["consents"] = _merge_consents(actor, survivor, merged)
            moves["merged_status"] = merged.status
            moves["household"] = _merge_household(survivor, merged)
            Patron.objects.filter(pk=merged.pk).update(
                status=PatronStatus.MERGED, updated_at=timezone.now()
            )
            merge = Merge.objects.create(
                survivor=survivor,
                merged=merged,
                candidate=candidate,
                reason=reason[:MAX_REASON],
                actor_id=actor.user_id,
                actor_label=actor.label[:150],
                moves=moves,
            )
            _settle_candidates(actor, survivor, merged, candidate)
            moved = {m["model"]: len(m["pks"]) for m in moves["rows"] if m["pks"]}
            detail = {"merge": merge.pk, "moved": moved}
            if candidate is not None:
                detail["candidate"] = candidate.pk
            _audit_both(actor, AuditAction.MERGE_PATRONS, merge, detail, other_role="merged")
            merge_patron_events(merged.patron_key, survivor.patron_key)
            rekeyed = True
            survivor_key, merged_key = survivor.patron_key, merged.patron_key
            transaction.on_commit(
                lambda: patrons_merged.send_robust(
                    sender=Merge, survivor_key=survivor_key, merged_key=merged_key
                )
            )
    except Exception:
        if rekeyed:  # the database rolled back after the store re-keyed: undo the alias too
            unmerge_patron_events(merged.patron_key, survivor.patron_key)
        raise
    return merge


def unmerge_patrons(actor: Actor, merge: Merge, *, reason: str) -> Merge:
    """Undo ``merge``: every row it moved goes back, the merged record gets its status, its
    household and its events back. The pair is remembered as two different people."""
    reason = (reason or "").strip()
    if not reason:
        raise LinkageError("reason_required", _("Say why this merge is being undone."))
    unaliased = False
    try:
        with transaction.atomic():
            merge = Merge.objects.select_for_update().get(pk=merge.pk)
            if merge.undone_at is not None:
                raise LinkageError(
                    "not_merged",
                    _("This merge was already undone on %(date)s.")
                    % {"date": f"{timezone.localtime(merge.undone_at):%Y-%m-%d %H:%M}"},
                )
            survivor, merged = _lock_pair(merge.survivor, merge.merged)
            if merged.status != PatronStatus.MERGED:
                raise LinkageError("not_merged", _("This record is not merged into another."))
            returned = _return_rows(survivor, merged, merge.moves)
            _unmerge_consents(merge.moves.get("consents") or {})
            _unmerge_household(survivor, merged, merge.moves.get("household") or {})
            Patron.objects.filter(pk=merged.pk).update(
                status=merge.moves.get("merged_status") or PatronStatus.ACTIVE,
                updated_at=timezone.now(),
            )
            merge.undone_at = timezone.now()
            merge.undone_by_label = actor.label[:150]
            merge.undo_reason = reason[:MAX_REASON]
            merge.save(update_fields=["undone_at", "undone_by_label", "undo_reason"])
            left, right = sorted((survivor.pk, merged.pk))
            decided = {
                "status": CandidateStatus.REJECTED,
                "decided_at": merge.undone_at,
                "decided_by_id": actor.user_id,
                "decided_by_label": actor.label[:150],
                "note": _("Merge undone")[:500],
            }
            MatchCandidate.objects.update_or_create(
                left_id=left,
                right_id=right,
                defaults=decided,
                create_defaults={**decided, "source": CandidateSource.STAFF},
            )
            detail = {"merge": merge.pk, "returned": returned}
            _audit_both(actor, AuditAction.UNMERGE_PATRONS, merge, detail, other_role="restored")
            unmerge_patron_events(merged.patron_key, survivor.patron_key)
            unaliased = True
            survivor_key, restored_key = survivor.patron_key, merged.patron_key
            transaction.on_commit(
                lambda: patrons_unmerged.send_robust(
                    sender=Merge, survivor_key=survivor_key, restored_key=restored_key
                )
            )
    except Exception:
        if unaliased:
            merge_patron_events(merge.merged.patron_key, merge.survivor.patron_key)
        raise
    return merge


def _audit_both(
    actor: Actor, action: AuditAction, merge: Merge, detail: dict[str, Any], *, other_role: str
) -> None:
    """One record on each patron's trail (no keys in ``detail``: erasure could not redact
    them)."""
    target = f"merge:{merge.pk}"
    record_audit_events(
        actor,
        [
            AuditRecord(action, merge.survivor, target, {**detail, "role": "survivor"}),
            AuditRecord(action, merge.merged, target, {**detail, "role": other_role}),
        ],
    )


def _lock_pair(a: Patron, b: Patron) -> tuple[Patron, Patron]:
    """Both patrons, fresh from the database and locked (in id order, so two merges of the
    same pair cannot deadlock)."""
    if a.pk == b.pk:
        raise LinkageError("self_merge", _("A record cannot be merged into itself."))
    rows = {p.pk: p for p in Patron.objects.select_for_update().filter(pk__in=sorted((a.pk, b.pk)))}
    if len(rows) != 2:
        raise LinkageError("not_found", _("One of the two records no longer exists."))
    return rows[a.pk], rows[b.pk]


def _check_mergeable(survivor: Patron, merged: Patron) -> None:
    standing = Merge.objects.filter(undone_at__isnull=True)
    if merged.status == PatronStatus.MERGED:
        raise LinkageError(
            "merge_chain", _("The record to merge was already merged into another record.")
        )
    if survivor.status == PatronStatus.MERGED:
        raise LinkageError(
            "merge_chain",
            _(
                "The surviving record was itself merged into another record; merge into that "
                "one instead."
            ),
        )
    if standing.filter(survivor=merged).exists():
        raise LinkageError(
            "merge_chain",
            _(
                "The record to merge has other records merged into it; merging it would chain "
                "merges. Keep it as the survivor, or undo its merges first."
            ),
        )


def _relations() -> Iterable[tuple[type[models.Model], str, bool]]:
    """(model, field name, one-to-one?) of every foreign key pointing at Patron."""
    for rel in Patron._meta.related_objects:
        model = rel.related_model
        if model._meta.label_lower in _NOT_MOVED or rel.many_to_many:
            continue
        yield model, rel.field.name, rel.one_to_one
    # hidden relations (related_name="+") are left out of related_objects; audit records and
    # linkage's own rows are meant to stay, any other hidden one is moved too
    for model in apps.get_models():
        if model._meta.label_lower in _NOT_MOVED or model._meta.label_lower == "privacy.auditevent":
            continue
        for f in model._meta.get_fields():
            if (
                isinstance(f, models.ForeignKey)
                and f.remote_field.model is Patron
                and f.remote_field.hidden
            ):
                yield model, f.name, isinstance(f, models.OneToOneField)


def _unique_sets(model: type[models.Model]) -> list[tuple[str, ...]]:
    sets = [tuple(u) for u in model._meta.unique_together]
    for c in model._meta.constraints:
        # a conditional constraint is treated as unconditional: a row that *might* clash stays
        if isinstance(c, models.UniqueConstraint) and c.fields:
            sets.append(tuple(c.fields))
    return sets


def _move_rows(survivor: Patron, merged: Patron) -> dict[str, Any]:
    rows = []
    for model, field, one_to_one in _relations():
        manager = model._default_manager
        theirs = manager.filter(**{field: merged})
        if one_to_one and manager.filter(**{field: survivor}).exists():
            theirs = theirs.none()
        for unique in _unique_sets(model):
            if field not in unique:
                continue
            others = [f for f in unique if f != field]
            if not others:
                if manager.filter(**{field: survivor}).exists():
                    theirs = theirs.none()
                continue
            taken = set(manager.filter(**{field: survivor}).values_list(*others))
            clash = [
                pk for pk, *values in theirs.values_list("pk", *others) if tuple(values) in taken
            ]
            theirs = theirs.exclude(pk__in=clash)
        pks = sorted(theirs.values_list("pk", flat=True))
        if pks:
            manager.filter(pk__in=pks).update(**{field: survivor})
        rows.append({"model": model._meta.label_lower, "field": field, "pks": pks})
    return {"rows": rows}


def _return_rows(survivor: Patron, merged: Patron, moves: dict[str, Any]) -> dict[str, int]:
    returned: dict[str, int] = {}
    for move in moves.get("rows", []):
        if not move["pks"]:
            continue
        try:
            model = apps.get_model(move["model"])
        except LookupError:  # an app removed since the merge: nothing of it to return
            continue
        count = model._default_manager.filter(
            pk__in=move["pks"], **{move["field"]: survivor}
        ).update(**{move["field"]: merged})
        returned[move["model"]] = returned.get(move["model"], 0) + count
    return returned


def _merge_consents(actor: Actor, survivor: Patron, merged: Patron) -> dict[str, Any]:
    """Consents merge by their own rule (the most restrictive explicit choice wins, see
    :func:`libcrm.consent.services.move_consents`); what every record looked like before is
    kept so that an unmerge restores both patrons' consents exactly."""
    from libcrm.consent.models import ConsentRecord
    from libcrm.consent.services import move_consents

    touched = ConsentRecord.objects.filter(
        models.Q(patron__in=(survivor, merged)) | models.Q(guardian=merged)
    )
    before = [
        [pk, patron_id, guardian_id, current]
        for pk, patron_id, guardian_id, current in touched.values_list(
            "pk", "patron_id", "guardian_id", "current"
        )
    ]
    if not before:
        return {}
    newest = ConsentRecord.objects.aggregate(newest=models.Max("pk"))["newest"] or 0
    move_consents(merged, survivor, actor=actor)
    created = list(
        ConsentRecord.objects.filter(pk__gt=newest, patron=survivor).values_list("pk", flat=True)
    )
    return {"before": before, "created": created}


def _unmerge_consents(state: dict[str, Any]) -> None:
    from libcrm.consent.models import ConsentRecord

    if not state:
        return
    ConsentRecord.objects.filter(pk__in=state.get("created", [])).delete()
    pks = [row[0] for row in state["before"]]
    # one current record per patron and purpose: clear the flags first, then set them back
    ConsentRecord.objects.filter(pk__in=pks).update(current=False)
    for pk, patron_id, guardian_id, _current in state["before"]:
        ConsentRecord.objects.filter(pk=pk).update(patron_id=patron_id, guardian_id=guardian_id)
    ConsentRecord.objects.filter(pk__in=[row[0] for row in state["before"] if row[3]]).update(
        current=True
    )


def _merge_household(survivor: Patron, merged: Patron) -> dict[str, Any]:
    """The survivor joins the merged record's household when it has none; the merged record
    leaves its household either way (a merged record is nobody's member)."""
    state = {
        "household_id": merged.household_id,
        "role": merged.household_role,
        "survivor_joined": False,
    }
    if merged.household_id is not None and survivor.household_id is None:
        Patron.objects.filter(pk=survivor.pk).update(
            household_id=merged.household_id,
            household_role=merged.household_role,
            updated_at=timezone.now(),
        )
        state["survivor_joined"] = True
    Patron.objects.filter(pk=merged.pk).update(
        household=None, household_role="", updated_at=timezone.now()
    )
    return state


def _unmerge_household(survivor: Patron, merged: Patron, state: dict[str, Any]) -> None:
    if state.get("survivor_joined") and survivor.household_id == state.get("household_id"):
        Patron.objects.filter(pk=survivor.pk).update(
            household=None, household_role="", updated_at=timezone.now()
        )
    if state.get("household_id") is not None:
        Patron.objects.filter(pk=merged.pk).update(
            household_id=state["household_id"],
            household_role=state.get("role", ""),
            updated_at=timezone.now(),
        )


def _settle_candidates(
    actor: Actor, survivor: Patron, merged: Patron, candidate: MatchCandidate | None
) -> None:
    """The pair is decided (same person); other pending pairs naming the merged record are
    obsolete — the next linker run proposes them again against the survivor."""
    left, right = sorted((survivor.pk, merged.pk))
    now = timezone.now()
    decided = {
        "status": CandidateStatus.ACCEPTED,
        "decided_at": now,
        "decided_by_id": actor.user_id,
        "decided_by_label": actor.label[:150],
    }
    if candidate is not None:
        MatchCandidate.objects.filter(pk=candidate.pk).update(**decided)
    else:
        MatchCandidate.objects.update_or_create(
            left_id=left,
            right_id=right,
            defaults=decided,
            create_defaults={**decided, "source": CandidateSource.STAFF},
        )
    MatchCandidate.objects.filter(
        models.Q(left=merged) | models.Q(right=merged), status=CandidateStatus.PENDING
    ).exclude(left_id=left, right_id=right).update(status=CandidateStatus.OBSOLETE)


# --- review ----------------------------------------------------------------------------------


def decide_candidate(
    actor: Actor,
    candidate: MatchCandidate,
    *,
    same_person: bool,
    survivor: Patron | None = None,
    note: str = "",
) -> MatchCandidate:
    """A librarian's verdict on a proposed pair. *Same person* merges (into ``survivor``, one
    of the two); *different people* is remembered so the pair is never proposed again."""
    note = (note or "").strip()[:500]
    with transaction.atomic():
        candidate = MatchCandidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status != CandidateStatus.PENDING:
            raise LinkageError(
                "already_decided",
                _("This pair was already decided (%(status)s).")
                % {"status": candidate.get_status_display()},
            )
        if same_person:
            if survivor is None or survivor.pk not in (candidate.left_id, candidate.right_id):
                raise LinkageError(
                    "survivor", _("Choose which of the two records survives the merge.")
                )
            merged_id = (
                candidate.right_id if survivor.pk == candidate.left_id else candidate.left_id
            )
            merge_patrons(
                actor,
                survivor,
                Patron.objects.get(pk=merged_id),
                reason=note or _("Reviewed as the same person"),
                candidate=candidate,
            )
            candidate.refresh_from_db()
            if note:
                MatchCandidate.objects.filter(pk=candidate.pk).update(note=note)
        else:
            candidate.status = CandidateStatus.REJECTED
            candidate.decided_at = timezone.now()
            candidate.decided_by_id = actor.user_id
            candidate.decided_by_label = actor.label[:150]
            candidate.note = note
            candidate.save()
        record_audit_event(
            actor,
            AuditAction.REVIEW_MATCH,
            patron=candidate.left,
            target=f"candidate:{candidate.pk}",
            detail={"same_person": same_person},
        )
    candidate.refresh_from_db()
    return candidate


def propose_pair(
    actor: Actor,
    a: Patron,
    b: Patron,
    *,
    source: str,
    evidence: list[dict[str, Any]] | None = None,
    probability: float | None = None,
) -> MatchCandidate | None:
    """Put a pair in the review queue (a conflicting identifier claim, a librarian's hunch).
    Returns ``None`` when the pair was already decided: decisions are never asked twice."""
    if a.pk == b.pk:
        raise LinkageError("self_merge", _("A record cannot be merged into itself."))
    left, right = sorted((a.pk, b.pk))
    with transaction.atomic():
        existing = (
            MatchCandidate.objects.select_for_update().filter(left_id=left, right_id=right).first()
        )
        if existing is not None and existing.status in (
            CandidateStatus.ACCEPTED,
            CandidateStatus.REJECTED,
        ):
            return None
        values = {
            "source": source,
            "evidence": evidence or [],
            "match_probability": probability,
            "status": CandidateStatus.PENDING,
        }
        if existing is None:
            return MatchCandidate.objects.create(left_id=left, right_id=right, **values)
        for k, v in values.items():
            setattr(existing, k, v)
        existing.save()
        return existing


#: Identifiers a person holds one of: two records claiming the same one are one person or a
#: mistake (one WeChat unionid on two card holders). Contacts (phone, e-mail) are shared by
#: families and are left to the probabilistic linker.
CLAIMED_KINDS = frozenset(
    {"library_card", "campus_id", "wechat_openid", "wechat_unionid", "weibo_id", "douyin_id",
     "national_id"}
)  # fmt: skip


def flag_identifier_conflict(
    actor: Actor, claimant: Patron, kind: str, value: str
) -> MatchCandidate | None:
    """``claimant`` was refused an identifier another patron holds: put the two records in the
    review queue as a conflicting claim (never merged silently). Returns ``None`` when the
    kind is a shared contact, the value is malformed, the holder is the claimant itself, or the
    pair was already decided."""
    from libcrm.patrons.identifiers import InvalidIdentifier
    from libcrm.patrons.selectors import find_patron_by_identifier

    if kind not in CLAIMED_KINDS:
        return None
    try:
        holder = find_patron_by_identifier(kind, value)
    except InvalidIdentifier:
        return None
    if holder is None or holder.pk == claimant.pk:
        return None
    evidence = [{"comparison": "claimed_identifier", "level": kind, "agrees": True, "weight": 0.0,
                 "label": _("Both records claim the same %(kind)s") % {"kind": kind}}]  # fmt: skip
    candidate = propose_pair(
        actor, claimant, holder, source=CandidateSource.CONFLICT, evidence=evidence
    )
    if candidate is not None:
        record_audit_event(
            actor,
            AuditAction.REVIEW_MATCH,
            patron=claimant,
            target=f"candidate:{candidate.pk}",
            detail={"conflict": kind},
        )
    return candidate


# --- linker runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    run: LinkRun
    merges: list[Merge]


def run_linkage(actor: Actor, link_settings: LinkSettings | None = None) -> RunOutcome:
    """Link the whole registry: pairs above the auto-merge threshold (off by default) merge,
    the others above the review threshold join the review queue; decided pairs are skipped."""
    link_settings = link_settings or LinkSettings()
    run = LinkRun.objects.create(
        actor_label=actor.label[:150],
        backend=link_settings.backend,
        review_threshold=link_settings.review_threshold,
        auto_merge_threshold=link_settings.auto_merge_threshold,
    )
    result = link_records(patron_records(), link_settings)
    pairs = result.pairs.to_pylist()
    decided = {
        (left, right): status
        for left, right, status in MatchCandidate.objects.values_list(
            "left_id", "right_id", "status"
        )
    }
    pending_existing = {
        k for k, s in decided.items() if s in (CandidateStatus.PENDING, CandidateStatus.OBSOLETE)
    }
    merges: list[Merge] = []
    skipped = proposed = 0
    auto = link_settings.auto_merge_threshold
    to_create: list[MatchCandidate] = []
    for pair in sorted(pairs, key=lambda p: -p["match_probability"]):
        key = (pair["left_id"], pair["right_id"])
        status = decided.get(key)
        if status in (CandidateStatus.ACCEPTED, CandidateStatus.REJECTED):
            skipped += 1
            continue
        evidence = pair["evidence"]
        if isinstance(evidence, str):
            evidence = json.loads(evidence)
        fields = {
            "source": CandidateSource.LINKER,
            "match_probability": float(pair["match_probability"]),
            "match_weight": float(pair["match_weight"]),
            "evidence": evidence,
            "run": run,
            "status": CandidateStatus.PENDING,
        }
        if auto is not None and pair["match_probability"] >= auto:
            merge = _auto_merge(actor, key, fields)
            if merge is not None:
                merges.append(merge)
                continue
        if key in pending_existing:
            MatchCandidate.objects.filter(left_id=key[0], right_id=key[1]).update(**fields)
        else:
            to_create.append(MatchCandidate(left_id=key[0], right_id=key[1], **fields))
            proposed += 1
    MatchCandidate.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
    run.finished_at = timezone.now()
    run.records = result.records
    run.pairs_found = len(pairs)
    run.proposed = proposed
    run.auto_merged = len(merges)
    run.skipped_decided = skipped
    run.model = result.model
    run.timings = result.timings
    run.save()
    record_audit_event(
        actor,
        AuditAction.LINK_RUN,
        target=f"link-run:{run.pk}",
        detail={
            "records": run.records,
            "pairs": run.pairs_found,
            "proposed": proposed,
            "auto_merged": len(merges),
            "backend": run.backend,
        },
    )
    return RunOutcome(run, merges)


def _auto_merge(actor: Actor, key: tuple[int, int], fields: dict[str, Any]) -> Merge | None:
    """Merge a pair above the auto-merge threshold into its older record; a pair that cannot
    merge (one side merged earlier in this run, a chain) goes to review instead."""
    left, right = Patron.objects.filter(pk__in=key).order_by("registered_on", "pk")
    candidate, _created = MatchCandidate.objects.update_or_create(
        left_id=key[0], right_id=key[1], defaults=fields
    )
    try:
        return merge_patrons(
            actor,
            left,
            right,
            reason=_("Automatic merge: match probability %(p).4f")
            % {"p": fields["match_probability"]},
            candidate=candidate,
        )
    except LinkageError:
        return None
