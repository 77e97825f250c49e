"""Identity linkage over HTTP: the review queue, decisions, merges and unmerges, refusals with
a stable code that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from libcrm.api.models import Scope
from libcrm.api.tests.helpers import TokenClient, error_of, issue_token
from libcrm.linkage.models import CandidateSource, CandidateStatus, MatchCandidate, Merge
from libcrm.patrons.models import Patron, PatronStatus

pytestmark = pytest.mark.django_db
BASE = "/api/v1/linkage"


@pytest.fixture(autouse=True)
def event_store_dir(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"


@pytest.fixture
def reviewer() -> TokenClient:
    _token, plaintext = issue_token(Scope.LINKAGE_REVIEW, name="dedupe")
    return TokenClient(plaintext)


@pytest.fixture
def two(make_patron: Callable[..., Patron]) -> tuple[Patron, Patron]:
    a, b = make_patron(name="张三"), make_patron(name="Zhang San")
    return (a, b) if a.pk < b.pk else (b, a)


def test_the_queue_names_patrons_by_key_only(
    reviewer: TokenClient, two: tuple[Patron, Patron]
) -> None:
    left, right = two
    MatchCandidate.objects.create(
        left=left, right=right, source=CandidateSource.LINKER, match_probability=0.8,
        evidence=[{"comparison": "name", "level": "pinyin", "agrees": True, "weight": 7.0}],
    )  # fmt: skip
    response = reviewer.get(f"{BASE}/candidates")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["left"]["patron_key"] == left.patron_key
    assert "张三" not in response.content.decode()


def test_merge_and_unmerge(reviewer: TokenClient, two: tuple[Patron, Patron]) -> None:
    survivor, merged = two
    response = reviewer.post(
        f"{BASE}/merges",
        {"survivor": str(survivor.uuid), "merged": str(merged.uuid), "reason": "same card holder"},
    )
    assert response.status_code == 201, response.content
    merge_id = response.json()["id"]
    assert Patron.objects.get(pk=merged.pk).status == PatronStatus.MERGED
    again = reviewer.post(
        f"{BASE}/merges",
        {"survivor": str(survivor.uuid), "merged": str(merged.uuid), "reason": "again"},
    )
    assert again.status_code == 409 and error_of(again)["code"] == "merge_chain"
    undone = reviewer.post(f"{BASE}/merges/{merge_id}/unmerge", {"reason": "twins"})
    assert undone.status_code == 200 and undone.json()["undone_at"]
    twice = reviewer.post(f"{BASE}/merges/{merge_id}/unmerge", {"reason": "twins"})
    assert twice.status_code == 409 and error_of(twice)["code"] == "not_merged"
    assert Patron.objects.get(pk=merged.pk).status == PatronStatus.ACTIVE


def test_a_self_merge_is_refused_and_changes_nothing(
    reviewer: TokenClient, two: tuple[Patron, Patron]
) -> None:
    a, _b = two
    response = reviewer.post(
        f"{BASE}/merges", {"survivor": str(a.uuid), "merged": str(a.uuid), "reason": "x"}
    )
    assert response.status_code == 409 and error_of(response)["code"] == "self_merge"
    assert Merge.objects.count() == 0


def test_a_decision_through_the_api(reviewer: TokenClient, two: tuple[Patron, Patron]) -> None:
    left, right = two
    pair = MatchCandidate.objects.create(left=left, right=right, source=CandidateSource.STAFF)
    response = reviewer.post(f"{BASE}/candidates/{pair.pk}/decision", {"same_person": False})
    assert response.status_code == 200 and response.json()["status"] == CandidateStatus.REJECTED
    again = reviewer.post(f"{BASE}/candidates/{pair.pk}/decision", {"same_person": False})
    assert again.status_code == 409 and error_of(again)["code"] == "already_decided"


def test_a_token_without_the_scope_is_refused(two: tuple[Patron, Patron]) -> None:
    _token, plaintext = issue_token(Scope.PATRONS_READ, Scope.PATRONS_WRITE, name="ils")
    a, b = two
    response = TokenClient(plaintext).post(
        f"{BASE}/merges", {"survivor": str(a.uuid), "merged": str(b.uuid), "reason": "x"}
    )
    assert response.status_code == 403
    assert Merge.objects.count() == 0


def test_a_conflicting_claim_goes_to_the_review_queue(make_patron: Callable[..., Patron]) -> None:
    unionid = "oEmHqt8pq9ErUBAZO6ArUq9FCWYk"
    holder = make_patron(
        identifiers=[{"kind": "wechat_unionid", "value": unionid, "source": "wechat"}]
    )
    claimant = make_patron()
    _token, plaintext = issue_token(Scope.PATRONS_READ, Scope.PATRONS_WRITE, name="ils")
    response = TokenClient(plaintext).post(
        f"/api/v1/patrons/{claimant.uuid}/identifiers",
        {"kind": "wechat_unionid", "value": unionid, "source": "wechat"},
    )
    assert response.status_code == 409
    pair = MatchCandidate.objects.get()
    assert pair.source == CandidateSource.CONFLICT and pair.status == CandidateStatus.PENDING
    assert {pair.left_id, pair.right_id} == {holder.pk, claimant.pk}
    assert Patron.objects.get(pk=claimant.pk).identifiers.count() == 1  # nothing merged
