"""Tags and segments over HTTP: define with a JSON rule (problems at their request paths, in the
request's language, nothing saved), count without saving, snapshots and sizes over time (small
groups not given exactly) and members as pseudonymous keys with their reasons."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from libcrm.api.models import Scope
from libcrm.api.tests.helpers import TokenClient, error_of, issue_token
from libcrm.features.services import feature_file
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.segments.models import Segment, SegmentSnapshot, SegmentVersion
from libcrm.segments.services import save_segment
from libcrm.segments.tests.test_services import _provenance, profile

pytestmark = pytest.mark.django_db
BASE = "/api/v1/segments"
READERS = {"field": "loans_events_365d", "op": ">=", "value": 3}


def put(client: TokenClient, path: str, body: Any, **extra: Any) -> Any:
    return client._send("put", path, body, **extra)  # the shared helper has no put()


def definition(rule: Any = READERS, **extra: Any) -> dict[str, Any]:
    return {"name_en": "Readers", "name_zh": "读者", "rule": rule, **extra}


@pytest.fixture
def profiled(tmp_path: Any, register_keys: Any) -> Any:
    """The four-patron feature table of the service tests (k1 … k4, registered as active
    patrons), member files in tmp."""
    register_keys("k1", "k2", "k3", "k4")
    with override_settings(
        LIBCRM_FEATURES_DIR=tmp_path / "f", LIBCRM_DATA_DIR=tmp_path / "d", LIBCRM_MIN_GROUP_SIZE=2
    ):
        feature_file().replace(profile(), _provenance())
        yield


@pytest.fixture
def writer() -> TokenClient:
    return TokenClient(issue_token(Scope.SEGMENTS_READ, Scope.SEGMENTS_WRITE, name="w")[1])


@pytest.fixture
def analyst() -> TokenClient:
    return TokenClient(issue_token(Scope.SEGMENTS_READ, name="analyst")[1])


def test_define_read_and_change_a_segment(writer: TokenClient, profiled: None) -> None:
    response = writer.post(BASE, {"slug": "readers", **definition()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "readers" and body["version"] == 1 and body["rule"] == READERS
    assert body["latest_snapshot"] is None and body["kind"] == "segment"
    again = writer.post(BASE, {"slug": "readers", **definition()})
    assert again.status_code == 409 and error_of(again)["code"] == "exists"

    busier = {"all": [READERS, {"field": "last_seen", "op": "within", "value": {"days": 30}}]}
    changed = put(writer, f"{BASE}/readers", definition(busier, description="Came in lately"))
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2
    assert [v["number"] for v in changed.json()["versions"]] == [2, 1]
    assert changed.json()["versions"][1]["rule"] == READERS
    assert changed.json()["versions"][0]["created_by"]

    child = put(writer, f"{BASE}/busy-readers", definition(READERS, parent="readers", kind="tag"))
    assert child.status_code == 201 and child.json()["parent"] == "readers"
    listed = writer.get(BASE).json()
    assert [s["slug"] for s in listed["results"]] == ["busy-readers", "readers"]
    assert writer.get(f"{BASE}/readers").json()["children"] == ["busy-readers"]
    cycle = put(writer, f"{BASE}/readers", definition(READERS, parent="busy-readers"))
    assert cycle.status_code == 422
    assert [f["path"] for f in error_of(cycle)["fields"]] == ["body.parent"]
    assert Segment.objects.get(slug="readers").parent is None
    audits = AuditEvent.objects.filter(action=AuditAction.CHANGE_SEGMENT)
    assert audits.count() == 3


def test_a_bad_rule_answers_422_at_its_request_path_and_saves_nothing(
    writer: TokenClient,
) -> None:
    rule = {"all": [READERS, {"field": "last_seen", "op": "within", "value": {"days": 30}},
                    {"field": "loans_events_365d", "op": ">", "value": "abc"},
                    {"any": [{"field": "loans365d", "op": "=", "value": 1}]}]}  # fmt: skip
    response = put(writer, f"{BASE}/busy", definition(rule, parent="nowhere"))
    assert response.status_code == 422
    error = error_of(response)
    paths = {f["path"]: f["message"] for f in error["fields"]}
    assert (
        paths["body.rule.all[2].value"] == '"abc" is text but loans_events_365d is a whole number'
    )
    assert "body.rule.all[3].any[0].field" in paths
    assert "body.parent" in paths
    assert not Segment.objects.exists() and not SegmentVersion.objects.exists()

    zh = put(writer, f"{BASE}/busy", definition(rule), headers={"Accept-Language": "zh-hans"})
    fields = {f["path"]: f["message"] for f in error_of(zh)["fields"]}
    assert fields["body.rule.all[2].value"] == '"abc" 是文本，但 loans_events_365d 是整数'

    bad_slug = put(writer, f"{BASE}/new", definition())
    assert [f["path"] for f in error_of(bad_slug)["fields"]] == ["path.slug"]
    not_an_object = writer.post(BASE, {"slug": "x", **definition(rule=[READERS])})
    assert error_of(not_an_object)["fields"][0]["path"] == "body.rule"
    assert not Segment.objects.exists()


def test_count_without_saving_hides_small_groups(analyst: TokenClient, profiled: None) -> None:
    response = analyst.post(f"{BASE}/count", {"rule": READERS})
    assert response.status_code == 200, response.content
    assert response.json() == {"size": 3, "fewer_than": None, "as_of": "2026-06-30"}
    few = {"field": "loans_events_365d", "op": ">=", "value": 20}
    one = analyst.post(f"{BASE}/count", {"rule": few}).json()  # one patron; k = 2 here
    assert one["size"] is None and one["fewer_than"] == 2
    with override_settings(LIBCRM_MIN_GROUP_SIZE=5):
        hidden = analyst.post(f"{BASE}/count", {"rule": READERS}).json()
        assert hidden["size"] is None and hidden["fewer_than"] == 5
        none = {"field": "loans_events_365d", "op": ">", "value": 1000}
        assert analyst.post(f"{BASE}/count", {"rule": none}).json()["size"] == 0
    window = {"from": "-30d", "to": "-90d"}
    reversed_window = {"field": "last_seen", "op": "in_window", "value": window}
    wrong = analyst.post(f"{BASE}/count", {"rule": reversed_window})
    assert wrong.status_code == 422
    assert error_of(wrong)["fields"][0]["path"] == "body.rule.value"
    assert not Segment.objects.exists()


def test_snapshots_sizes_over_time_and_members_by_key(
    writer: TokenClient, analyst: TokenClient, profiled: None
) -> None:
    put(writer, f"{BASE}/readers", definition())
    none_yet = analyst.get(f"{BASE}/readers/members")
    assert none_yet.status_code == 409 and error_of(none_yet)["code"] == "no_snapshot"
    taken = writer.post(f"{BASE}/readers/snapshots")
    assert taken.status_code == 201, taken.content
    assert taken.json()["size"] == 3 and taken.json()["as_of"] == "2026-06-30"
    assert taken.json()["version"] == 1
    writer.post(f"{BASE}/readers/snapshots")
    sizes = analyst.get(f"{BASE}/readers/snapshots").json()
    assert sizes["count"] == 2 and [s["size"] for s in sizes["results"]] == [3, 3]
    listed = analyst.get(BASE).json()["results"][0]
    assert listed["latest_snapshot"]["size"] == 3

    members = analyst.get(f"{BASE}/readers/members", {"limit": 2})
    assert members.status_code == 200, members.content
    body = members.json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert [m["patron_key"] for m in body["results"]] == ["k2", "k3"]
    reason = body["results"][0]["reasons"][0]
    assert reason["field"] == "loans_events_365d" and reason["held"] is True
    assert reason["actual"] == 4 and reason["op"] == ">="
    rest = analyst.get(f"{BASE}/readers/members", {"limit": 2, "offset": 2}).json()
    assert [m["patron_key"] for m in rest["results"]] == ["k4"]
    assert set(body["results"][0]) == {"patron_key", "reasons"}

    with override_settings(LIBCRM_MIN_GROUP_SIZE=5):
        small = analyst.get(f"{BASE}/readers/members")
        assert small.status_code == 409 and error_of(small)["code"] == "too_few_members"
        assert analyst.get(f"{BASE}/readers/snapshots").json()["results"][0]["size"] is None


def test_scopes_are_required(analyst: TokenClient, actor: Any) -> None:
    save_segment(actor, slug="readers", name_en="Readers", name_zh="读者", rule=READERS)
    refused = put(analyst, f"{BASE}/readers", definition({"field": "last_seen", "op": "is_set"}))
    assert refused.status_code == 403 and error_of(refused)["code"] == "missing_scope"
    assert analyst.post(f"{BASE}/readers/snapshots").status_code == 403
    assert Segment.objects.get().current_version.number == 1
    assert not SegmentSnapshot.objects.exists()
    patrons_only = TokenClient(issue_token(Scope.PATRONS_READ)[1])
    assert patrons_only.get(BASE).status_code == 403
    assert TokenClient(None).get(f"{BASE}/readers").status_code == 401
    missing = analyst.get(f"{BASE}/nowhere")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
