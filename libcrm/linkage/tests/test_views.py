"""The review queue in the console: a reviewer compares two records with the evidence, decides,
and can undo a merge; reviewing is audited and merging asks for a fresh proof of identity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from libcrm.linkage.models import CandidateSource, CandidateStatus, MatchCandidate, Merge
from libcrm.linkage.services import merge_patrons
from libcrm.patrons.models import Patron, PatronStatus
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff import reauth

pytestmark = pytest.mark.django_db

EVIDENCE = [
    {"comparison": "name", "level": "pinyin", "label_en": "same name in pinyin",
     "label_zh": "拼音姓名相同", "agrees": True, "weight": 9.5},
    {"comparison": "birth_year", "level": "different", "label_en": "different",
     "label_zh": "不同", "agrees": False, "weight": -4.25},
]  # fmt: skip


@pytest.fixture(autouse=True)
def event_store_dir(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"


@pytest.fixture
def pair(make_patron: Callable[..., Patron]) -> MatchCandidate:
    a = make_patron(name="欧阳婧萱", birth_year=1998)
    b = make_patron(name="Ouyang Jingxuan", birth_year=1999)
    left, right = sorted((a, b), key=lambda p: p.pk)
    return MatchCandidate.objects.create(
        left=left, right=right, source=CandidateSource.LINKER, match_probability=0.93,
        match_weight=3.8, evidence=EVIDENCE,
    )  # fmt: skip


def test_the_queue_lists_pending_pairs(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    response = staff_client("user_relations").get("/linkage/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "欧阳婧萱" in page and "Ouyang Jingxuan" in page and "0.930" in page


def test_a_pair_is_shown_side_by_side_with_its_evidence_and_the_view_is_audited(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    response = staff_client("user_relations").get(f"/linkage/pairs/{pair.pk}/")
    page = response.content.decode()
    assert "same name in pinyin" in page and "+9.50" in page and "-4.25" in page
    assert page.index("same name in pinyin") < page.index("-4.25")  # strongest first
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEW_PATRON)
    assert {e.patron_id for e in viewed} == {pair.left_id, pair.right_id}


def test_accepting_merges_into_the_chosen_record(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    client = staff_client("user_relations")
    response = client.post(
        f"/linkage/pairs/{pair.pk}/decide/",
        {"verdict": "same", "survivor": pair.right_id, "note": "same phone on the form"},
    )
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.ACCEPTED
    assert Patron.objects.get(pk=pair.left_id).status == PatronStatus.MERGED
    assert Merge.objects.get().survivor_id == pair.right_id


def test_accepting_without_choosing_a_survivor_is_refused(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    response = staff_client("user_relations").post(
        f"/linkage/pairs/{pair.pk}/decide/", {"verdict": "same"}
    )
    assert response.status_code == 200
    assert "Choose which record to keep." in response.content.decode()
    assert Merge.objects.count() == 0


def test_a_stale_session_must_confirm_its_identity_before_merging(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    client = staff_client("user_relations")
    session = client.session
    session[reauth.SESSION_KEY] = 0
    session.save()
    response = client.post(
        f"/linkage/pairs/{pair.pk}/decide/", {"verdict": "same", "survivor": pair.left_id}
    )
    assert response.status_code == 302 and "/accounts/reauth/" in response["Location"]
    assert Merge.objects.count() == 0


def test_rejecting_is_remembered(staff_client: Callable[[str], Any], pair: MatchCandidate) -> None:
    staff_client("user_relations").post(
        f"/linkage/pairs/{pair.pk}/decide/", {"verdict": "different", "note": "twins"}
    )
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.REJECTED and pair.note == "twins"


def test_an_unmerge_from_the_console_restores_the_record(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    merge = merge_patrons(Actor.system("test"), pair.left, pair.right, reason="same person")
    client = staff_client("administrator")
    assert "Undo merge" in client.get(f"/linkage/merges/{merge.pk}/").content.decode()
    empty = client.post(f"/linkage/merges/{merge.pk}/unmerge/", {"reason": ""})
    assert empty.status_code == 200
    assert Patron.objects.get(pk=pair.right_id).status == PatronStatus.MERGED
    client.post(f"/linkage/merges/{merge.pk}/unmerge/", {"reason": "two people"})
    assert Patron.objects.get(pk=pair.right_id).status == PatronStatus.ACTIVE


def test_front_desk_and_analysts_cannot_review(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    for role in ("front_desk", "analyst"):
        assert staff_client(role).get(f"/linkage/pairs/{pair.pk}/").status_code == 403


def test_the_patron_page_tells_a_reviewer_about_merges(
    staff_client: Callable[[str], Any], pair: MatchCandidate
) -> None:
    merge = merge_patrons(Actor.system("test"), pair.left, pair.right, reason="same person")
    client = staff_client("user_relations")
    merged_page = client.get(f"/patrons/{pair.right.uuid}/").content.decode()
    assert "This record was merged into another" in merged_page
    assert f"/linkage/merges/{merge.pk}/" in merged_page
    kept_page = client.get(f"/patrons/{pair.left.uuid}/").content.decode()
    assert "One other record was merged into this one." in kept_page
