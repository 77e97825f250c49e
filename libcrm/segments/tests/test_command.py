"""``libcrm segments`` prints problems with their paths, without a traceback, and saves
nothing when a rule is refused."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from libcrm.segments.models import Segment
from libcrm.segments.starter import STARTER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registry(register_keys) -> None:
    """The profile has a row per active registry patron: the feature table's four keys."""
    register_keys("k1", "k2", "k3", "k4")


def write(tmp_path, rule) -> str:
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule), encoding="utf-8")
    return str(path)


def test_check_prints_each_problem_in_the_chosen_language(tmp_path, capsys) -> None:
    rule = {"all": [{"field": "loans_events_365d", "op": ">", "value": "abc"}]}
    with pytest.raises(CommandError, match="1 problem"):
        call_command("segments", "--lang", "zh", "check", write(tmp_path, rule))
    assert '/all/0/value: "abc" 是文本，但 loans_events_365d 是整数' in capsys.readouterr().err
    good = {"field": "last_seen", "op": "within", "value": {"days": 30}}
    call_command("segments", "check", write(tmp_path, good))
    assert "the rule is valid" in capsys.readouterr().out


def test_save_starter_and_list(tmp_path, capsys) -> None:
    bad = {"field": "last_seen", "op": "in_window", "value": {"from": "-1d", "to": "-9d"}}
    with pytest.raises(CommandError, match="nothing was saved"):
        call_command("segments", "save", "recent", "--name-en", "Recent", "--name-zh", "近期",
                     "--rule", write(tmp_path, bad))  # fmt: skip
    assert "/value: the window ends (-9d) before it starts (-1d)" in capsys.readouterr().err
    assert not Segment.objects.exists()
    good = {"field": "last_seen", "op": "in_window", "value": {"from": "-9d", "to": "-1d"}}
    call_command("segments", "save", "recent", "--name-en", "Recent", "--name-zh", "近期",
                 "--rule", write(tmp_path, good))  # fmt: skip
    assert "saved recent, version 1" in capsys.readouterr().out
    call_command("segments", "starter")
    assert Segment.objects.count() == len(STARTER) + 1
    capsys.readouterr()
    call_command("segments", "list")
    out = capsys.readouterr().out
    assert "recent [segment] v1: no snapshot" in out
    assert "night-owls [tag] v1: no snapshot" in out
    with pytest.raises(CommandError, match="no such tag or segment: nope"):
        call_command("segments", "snapshot", "nope")


def test_snapshot_and_why_on_the_stored_feature_table(tmp_path, capsys) -> None:
    from django.test import override_settings

    from libcrm.features.services import feature_file
    from libcrm.segments.tests.test_services import _provenance, profile

    readers = {"field": "loans_events_365d", "op": ">=", "value": 3}
    call_command("segments", "save", "readers", "--name-en", "Readers", "--name-zh", "读者",
                 "--rule", write(tmp_path, readers))  # fmt: skip
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path / "f", LIBCRM_DATA_DIR=tmp_path / "d"):
        feature_file().replace(profile(), _provenance())
        capsys.readouterr()
        call_command("segments", "snapshot")
        assert "readers: 3 members as of 2026-06-30" in capsys.readouterr().out
        call_command("segments", "--lang", "zh", "why", "readers", "k3")
        assert "✓ loans_events_365d (近365天借阅次数) >= 3: 12" in capsys.readouterr().out
        call_command("segments", "why", "readers", "k1")
        assert "not a member" in capsys.readouterr().out
