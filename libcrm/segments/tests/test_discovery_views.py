"""The discovery page: run clustering on the stored feature table, read each group in English
or Chinese, and save a group's rule as a segment (checked and audited); who may."""

from __future__ import annotations

import html
import json

import pytest
from django.test import override_settings
from django.urls import reverse

from libcrm.features.services import feature_file
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.segments.models import Segment
from libcrm.segments.tests.test_discovery import planted_table
from libcrm.segments.tests.test_services import _provenance

pytestmark = pytest.mark.django_db
RULE = {"all": [{"field": "loans_events_365d", "op": ">", "value": 10}]}


@pytest.fixture
def planted(tmp_path):
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        table, _ = planted_table(per_group=60, outliers=3)
        feature_file().replace(table, _provenance())
        yield table


def save_form(slug="borrowers", rule=RULE, **extra):
    data = {"slug": slug, "name_en": "Borrowers", "name_zh": "借阅者", "rule": json.dumps(rule),
            "description": "Number of loans: far higher"}  # fmt: skip
    data.update(extra)
    return data


def test_an_analyst_runs_discovery_and_reads_the_groups(staff_client, planted) -> None:
    client = staff_client("analyst")
    page = client.get(reverse("segments:discover")).content.decode()
    assert "Run discovery" in page and "Group 1" not in page
    response = client.post(reverse("segments:discover"), {"k": "4"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "3 groups shown, from 4 clusters of 183 patrons" in page
    assert "Fewer than 5 patrons are in clusters too small to show." in page
    assert "Group 1: 60 patrons" in page and "Group 4" not in page
    assert "Number of loans, last 365 days: far higher than others" in page
    assert "Typical values" in page and "Precision" in page
    assert page.count('action="/segments/discover/save/"') == 3
    assert 'value="discovered-1"' in page and 'value="Discovered group 1"' in page


def test_in_chinese_the_groups_are_described_in_chinese(staff_client, planted) -> None:
    client = staff_client("user_relations")
    response = client.post(reverse("segments:discover"), {"k": "3"},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")  # fmt: skip
    page = response.content.decode()
    assert "近365天借阅次数：远高于其他读者" in page
    assert "发现的群体 1" in page


def test_discovery_explains_when_there_is_too_little_to_cluster(staff_client, tmp_path) -> None:
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        table, _ = planted_table(per_group=1)
        feature_file().replace(table, _provenance())
        page = staff_client("analyst").post(reverse("segments:discover"), {}).content.decode()
    assert "Discovery needs more patrons with features (3 now)" in page


def test_saving_a_discovered_group_creates_an_audited_segment(staff_client, planted) -> None:
    client = staff_client("analyst")
    page = client.post(reverse("segments:discover"), {"k": "3"}).content.decode()
    start = page.index('name="rule" value="') + len('name="rule" value="')
    rule = json.loads(html.unescape(page[start : page.index('"', start)]))
    response = client.post(reverse("segments:discover_save"), save_form(rule=rule))
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("segments:detail", kwargs={"slug": "borrowers"})
    segment = Segment.objects.get(slug="borrowers")
    assert segment.current_version.rule == rule
    assert (segment.name_en, segment.name_zh) == ("Borrowers", "借阅者")
    assert segment.description == "Number of loans: far higher"
    event = AuditEvent.objects.get(action=AuditAction.CHANGE_SEGMENT, target="segment:borrowers")
    assert event.detail == {"change": "created", "version": 1}
    # The librarian edits it afterwards like any other segment.
    edit = client.get(reverse("segments:edit", kwargs={"slug": "borrowers"}))
    assert edit.status_code == 200


def test_a_bad_name_or_rule_is_refused_and_nothing_is_saved(staff_client) -> None:
    client = staff_client("administrator")
    response = client.post(reverse("segments:discover_save"), save_form(slug="discover"))
    assert response.status_code == 400
    assert "slug" in response.content.decode()
    bad = {"all": [{"field": "loans365", "op": ">", "value": 3}]}
    response = client.post(reverse("segments:discover_save"), save_form(rule=bad))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page and "/all/0/field" in page and "loans365" in page
    response = client.post(reverse("segments:discover_save"), {**save_form(), "rule": "{x"})
    assert "The rule is not JSON." in response.content.decode()
    response = client.post(reverse("segments:discover_save"), save_form(name_zh=""))
    assert response.status_code == 400
    assert not Segment.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE_SEGMENT).exists()


@pytest.mark.parametrize("role", ["front_desk", "subject_liaison", "acquisitions"])
def test_only_those_who_define_segments_may_discover(staff_client, role) -> None:
    client = staff_client(role)
    assert client.get(reverse("segments:discover")).status_code == 403
    assert client.post(reverse("segments:discover"), {}).status_code == 403
    assert client.post(reverse("segments:discover_save"), save_form()).status_code == 403
    assert not Segment.objects.exists()


def test_the_segment_list_links_to_discovery_for_those_who_may(staff_client) -> None:
    link = reverse("segments:discover")
    assert link in staff_client("analyst").get(reverse("segments:list")).content.decode()
    assert (
        link not in staff_client("subject_liaison").get(reverse("segments:list")).content.decode()
    )
