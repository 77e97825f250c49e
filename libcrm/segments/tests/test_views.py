"""The console pages: define a segment from JSON, see problems at their paths, count live,
take a snapshot; sizes below k are not shown exactly."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from libcrm.features.services import feature_file
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.segments.models import Segment, SegmentSnapshot
from libcrm.segments.services import save_segment
from libcrm.segments.tests.test_services import _provenance, profile

pytestmark = pytest.mark.django_db
READERS = {"field": "loans_events_365d", "op": ">=", "value": 3}


@pytest.fixture(autouse=True)
def _registry(register_keys) -> None:
    """The profile has a row per active registry patron: the feature table's four keys."""
    register_keys("k1", "k2", "k3", "k4")


def form(slug="readers", rule=READERS, **extra):
    data = {"slug": slug, "name_en": "Readers", "name_zh": "读者", "kind": "segment",
            "parent": "", "description": "", "rule": json.dumps(rule)}  # fmt: skip
    data.update(extra)
    return data


def test_an_analyst_defines_a_segment_and_sees_it_listed(staff_client) -> None:
    client = staff_client("analyst")
    response = client.post(reverse("segments:create"), form())
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("segments:detail", kwargs={"slug": "readers"})
    page = client.get(reverse("segments:list")).content.decode()
    assert "readers" in page and "Readers" in page
    detail = client.get(reverse("segments:detail", kwargs={"slug": "readers"})).content.decode()
    assert "loans_events_365d" in detail
    assert Segment.objects.get(slug="readers").current_version.created_by_label


def test_a_bad_rule_is_shown_at_its_path_and_not_saved(staff_client) -> None:
    client = staff_client("user_relations")
    bad = {"all": [READERS, {"field": "last_seen", "op": "in_window",
                             "value": {"from": "-30d", "to": "-90d"}}]}  # fmt: skip
    response = client.post(reverse("segments:create"), form(rule=bad))
    page = response.content.decode()
    assert response.status_code == 200
    assert "/all/1/value" in page and "before it starts" in page
    response = client.post(reverse("segments:create"), {**form(), "rule": "{not json"})
    assert "This is not JSON" in response.content.decode()
    assert not Segment.objects.exists()


def test_in_chinese_the_problems_are_in_chinese(staff_client) -> None:
    client = staff_client("analyst")
    rule = {"field": "loans_events_365d", "op": ">", "value": "abc"}
    response = client.post(reverse("segments:count"), {"rule": json.dumps(rule)},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")  # fmt: skip
    assert "是文本，但 loans_events_365d 是整数" in response.content.decode()


def test_the_live_count_hides_small_groups(staff_client, tmp_path) -> None:
    client = staff_client("analyst")
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(profile(), _provenance())
        few = client.post(reverse("segments:count"), {"rule": json.dumps(READERS)})
        assert "fewer than 5" in few.content.decode()
        none = {"field": "loans_events_365d", "op": ">", "value": 1000}
        zero = client.post(reverse("segments:count"), {"rule": json.dumps(none)})
        assert "<strong>0</strong>" in zero.content.decode()
        with override_settings(LIBCRM_MIN_GROUP_SIZE=2):
            shown = client.post(reverse("segments:count"), {"rule": json.dumps(READERS)})
            assert "<strong>3</strong>" in shown.content.decode()


def test_a_snapshot_from_the_console(staff_client, actor, tmp_path) -> None:
    save_segment(actor, slug="readers", name_en="Readers", name_zh="读者", rule=READERS)
    client = staff_client("administrator")
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path / "f", LIBCRM_DATA_DIR=tmp_path / "d",
                           LIBCRM_MIN_GROUP_SIZE=2):  # fmt: skip
        feature_file().replace(profile(), _provenance())
        response = client.post(reverse("segments:snapshot", kwargs={"slug": "readers"}))
        assert response.status_code == 302
        page = client.get(reverse("segments:detail", kwargs={"slug": "readers"})).content.decode()
    assert SegmentSnapshot.objects.get().size == 3
    assert "2026-06-30" in page
    assert AuditEvent.objects.filter(action=AuditAction.CHANGE_SEGMENT,
                                     detail__change="snapshot").exists()  # fmt: skip


def test_a_front_desk_librarian_cannot_see_segments(staff_client) -> None:
    client = staff_client("front_desk")
    assert client.get(reverse("segments:list")).status_code == 403
