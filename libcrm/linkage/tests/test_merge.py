"""Merging two records of one person and undoing it: every row moves, every event follows, and
an unmerge puts both patrons back exactly; refused merges change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from libcrm.events import selectors as event_selectors
from libcrm.events import services as event_services
from libcrm.events.tests.factories import event_rows
from libcrm.linkage.errors import LinkageError
from libcrm.linkage.models import CandidateStatus, MatchCandidate, Merge
from libcrm.linkage.services import (
    decide_candidate,
    merge_patrons,
    propose_pair,
    unmerge_patrons,
)
from libcrm.patrons.models import Household, Identifier, NameTerm, Patron, PatronStatus
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.signals import patrons_merged, patrons_unmerged

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def event_store_dir(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"


def give_events(patron: Patron, n: int, seed: int) -> set[str]:
    rows = event_rows(n, seed=seed, patrons=1)
    for row in rows:
        row["patron_key"] = patron.patron_key
    event_services.append_events(rows, source="test")
    return event_ids(patron)


def event_ids(patron: Patron) -> set[str]:
    timeline = event_selectors.patron_timeline(patron.patron_key, limit=1000)
    return {e["event_id"] if isinstance(e, dict) else e.event_id for e in timeline.events}


def snapshot(patron: Patron) -> dict[str, Any]:
    patron.refresh_from_db()
    return {
        "status": patron.status,
        "household": (patron.household_id, patron.household_role),
        "identifiers": sorted(
            Identifier.objects.filter(patron=patron).values_list("pk", flat=True)
        ),
        "name_terms": sorted(NameTerm.objects.filter(patron=patron).values_list("pk", flat=True)),
        "events": event_ids(patron),
    }


@pytest.fixture
def pair(make_patron: Callable[..., Patron]) -> tuple[Patron, Patron]:
    survivor = make_patron(
        name="王晓明",
        birth_year=1999,
        identifiers=[{"kind": "library_card", "value": "A10001", "source": "desk"}],
    )
    merged = make_patron(
        name="王小明",
        identifiers=[
            {"kind": "library_card", "value": "W20002", "source": "wechat"},
            {"kind": "wechat_openid", "value": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "source": "wechat"},
        ],
    )
    return survivor, merged


def test_a_merge_moves_identifiers_household_and_events_and_an_unmerge_restores_both(
    actor: Actor, pair: tuple[Patron, Patron], django_capture_on_commit_callbacks: Any
) -> None:
    survivor, merged = pair
    household = Household.objects.create(label="王家")
    Patron.objects.filter(pk=merged.pk).update(household=household, household_role="head")
    give_events(survivor, 30, seed=1)
    give_events(merged, 20, seed=2)
    before = {"survivor": snapshot(survivor), "merged": snapshot(merged)}
    merged_signals: list[dict[str, Any]] = []
    patrons_merged.connect(lambda **kw: merged_signals.append(kw), weak=False, dispatch_uid="t1")

    with django_capture_on_commit_callbacks(execute=True):
        merge = merge_patrons(actor, survivor, merged, reason="same phone on both forms")

    survivor.refresh_from_db()
    merged.refresh_from_db()
    assert merged.status == PatronStatus.MERGED
    assert set(Identifier.objects.filter(patron=survivor).values_list("kind", flat=True)) == {
        "library_card",
        "wechat_openid",
    }
    assert Identifier.objects.filter(patron=merged).count() == 0
    assert survivor.household_id == household.pk and survivor.household_role == "head"
    assert merged.household_id is None
    assert event_ids(survivor) == before["survivor"]["events"] | before["merged"]["events"]
    assert merged_signals and merged_signals[0]["merged_key"] == merged.patron_key
    actions = AuditEvent.objects.filter(action=AuditAction.MERGE_PATRONS)
    assert {a.patron_id for a in actions} == {survivor.pk, merged.pk}
    assert all("same phone" not in str(a.detail) for a in actions)  # the reason is not audited
    assert MatchCandidate.objects.get().status == CandidateStatus.ACCEPTED

    event_services.compact_events()  # compaction must not make the merge irreversible
    unmerged_signals: list[dict[str, Any]] = []
    patrons_unmerged.connect(
        lambda **kw: unmerged_signals.append(kw), weak=False, dispatch_uid="t2"
    )
    with django_capture_on_commit_callbacks(execute=True):
        unmerge_patrons(actor, merge, reason="two people after all")

    assert {"survivor": snapshot(survivor), "merged": snapshot(merged)} == before
    assert Merge.objects.get().undone_at is not None
    assert MatchCandidate.objects.get().status == CandidateStatus.REJECTED
    assert unmerged_signals and unmerged_signals[0]["restored_key"] == merged.patron_key
    assert AuditEvent.objects.filter(action=AuditAction.UNMERGE_PATRONS).count() == 2
    patrons_merged.disconnect(dispatch_uid="t1")
    patrons_unmerged.disconnect(dispatch_uid="t2")


def test_a_merge_of_a_record_into_itself_is_refused(
    actor: Actor, pair: tuple[Patron, Patron]
) -> None:
    survivor, _merged = pair
    with pytest.raises(LinkageError, match="into itself") as caught:
        merge_patrons(actor, survivor, survivor, reason="x")
    assert caught.value.code == "self_merge"
    assert Merge.objects.count() == 0


def test_merge_chains_are_refused_and_change_nothing(
    actor: Actor, pair: tuple[Patron, Patron], make_patron: Callable[..., Patron]
) -> None:
    survivor, merged = pair
    third = make_patron(name="王晓明")
    merge_patrons(actor, survivor, merged, reason="same person")
    audit_before = AuditEvent.objects.count()
    with pytest.raises(LinkageError) as into_merged:
        merge_patrons(actor, merged, third, reason="x")
    assert into_merged.value.code == "merge_chain"
    with pytest.raises(LinkageError) as merged_again:
        merge_patrons(actor, third, merged, reason="x")
    assert merged_again.value.code == "merge_chain"
    with pytest.raises(LinkageError) as survivor_away:
        merge_patrons(actor, third, survivor, reason="x")
    assert survivor_away.value.code == "merge_chain"
    third.refresh_from_db()
    assert third.status == PatronStatus.ACTIVE
    assert Merge.objects.count() == 1
    assert AuditEvent.objects.count() == audit_before


def test_an_unmerge_of_a_merge_already_undone_is_refused(
    actor: Actor, pair: tuple[Patron, Patron]
) -> None:
    survivor, merged = pair
    merge = merge_patrons(actor, survivor, merged, reason="same person")
    unmerge_patrons(actor, merge, reason="no")
    with pytest.raises(LinkageError, match="already undone") as caught:
        unmerge_patrons(actor, merge, reason="again")
    assert caught.value.code == "not_merged"


def test_a_merge_needs_a_reason(actor: Actor, pair: tuple[Patron, Patron]) -> None:
    with pytest.raises(LinkageError, match="why"):
        merge_patrons(actor, *pair, reason="  ")
    assert Patron.objects.filter(status=PatronStatus.MERGED).count() == 0


def test_a_rejected_pair_is_remembered_and_not_proposed_again(
    actor: Actor, pair: tuple[Patron, Patron]
) -> None:
    a, b = pair
    candidate = propose_pair(actor, a, b, source="staff")
    assert candidate is not None
    decided = decide_candidate(actor, candidate, same_person=False, note="different birthdays")
    assert decided.status == CandidateStatus.REJECTED
    assert propose_pair(actor, b, a, source="linker", probability=0.99) is None
    with pytest.raises(LinkageError) as caught:
        decide_candidate(actor, decided, same_person=True, survivor=a)
    assert caught.value.code == "already_decided"
    assert AuditEvent.objects.filter(action=AuditAction.REVIEW_MATCH).count() == 1


def test_accepting_a_pair_merges_into_the_chosen_survivor(
    actor: Actor, pair: tuple[Patron, Patron], make_patron: Callable[..., Patron]
) -> None:
    a, b = pair
    other = make_patron(name="王晓明")
    candidate = propose_pair(actor, a, b, source="linker", probability=0.93)
    stale = propose_pair(actor, a, other, source="linker", probability=0.6)
    assert candidate is not None and stale is not None
    with pytest.raises(LinkageError) as caught:
        decide_candidate(actor, candidate, same_person=True, survivor=other)
    assert caught.value.code == "survivor"
    decide_candidate(actor, candidate, same_person=True, survivor=b, note="checked card")
    a.refresh_from_db()
    assert a.status == PatronStatus.MERGED
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.merged_id, merge.candidate_id) == (b.pk, a.pk, candidate.pk)
    stale.refresh_from_db()
    assert stale.status == CandidateStatus.OBSOLETE


def test_after_a_merge_ingestion_resolves_the_merged_records_identifiers_to_the_survivor(
    actor: Actor, pair: tuple[Patron, Patron]
) -> None:
    import pyarrow as pa

    from libcrm.ingest.identity import IdentityResolver

    survivor, merged = pair
    merge_patrons(actor, survivor, merged, reason="same person")
    batch = pa.RecordBatch.from_pydict(
        {
            "identifier_kind": ["wechat_openid", "library_card"],
            "identifier_value": ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "W20002"],
            "patron_key": pa.array([None, None], pa.string()),
        }
    )
    keys, problems = IdentityResolver(actor=actor, source="wechat").resolve(batch)
    assert problems == []
    assert keys.to_pylist() == [survivor.patron_key, survivor.patron_key]
    # an event that still names the merged record's key lands on the survivor's timeline
    rows = event_rows(3, seed=5, patrons=1)
    for row in rows:
        row["patron_key"] = merged.patron_key
    event_services.append_events(rows, source="test")
    assert {r["event_id"] for r in rows} <= event_ids(survivor)


def test_consents_merge_most_restrictive_and_an_unmerge_restores_them_exactly(
    actor: Actor, pair: tuple[Patron, Patron]
) -> None:
    from libcrm.consent.models import ConsentRecord
    from libcrm.consent.selectors import has_consent
    from libcrm.consent.services import set_consent

    survivor, merged = pair
    set_consent(actor, survivor, "personalisation", True, via="staff")
    set_consent(actor, merged, "personalisation", False, via="portal")
    set_consent(actor, merged, "outreach_email", True, via="portal")
    set_consent(actor, survivor, "loan_history", True, via="staff")

    def state() -> list[tuple[Any, ...]]:
        return sorted(
            ConsentRecord.objects.values_list("pk", "patron_id", "purpose", "granted", "current")
        )

    before = state()
    merge = merge_patrons(actor, survivor, merged, reason="same person")
    assert not has_consent(survivor, "personalisation")  # one "no" wins
    assert has_consent(survivor, "outreach_email")  # the survivor never chose: theirs carries
    assert has_consent(survivor, "loan_history")
    assert ConsentRecord.objects.filter(patron=merged).count() == 0
    unmerge_patrons(actor, merge, reason="two people")
    assert state() == before
    assert has_consent(survivor, "personalisation") and not has_consent(merged, "personalisation")
