"""The key file is created owner-only, rewritten atomically, and parsed with clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from libcrm.privacy import keyfile
from libcrm.privacy.crypto import KeyringError


def test_created_on_first_use_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "libcrm-keys.json"
    material = keyfile.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert keyfile.permission_problems(path) == []
    ring = keyfile.parse(material, "test")
    assert ring.field_primary in ring.field_keys
    assert keyfile.load_or_create(path) == material  # second run reads, never regenerates


def test_permission_problems_say_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.json"
    keyfile.load_or_create(path)
    path.chmod(0o644)
    (problem,) = keyfile.permission_problems(path)
    assert f"chmod 600 {path}" in problem


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    keyfile.write_atomic(path, keyfile.new_key_material())
    keyfile.write_atomic(path, keyfile.new_key_material())
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]


def test_rotation_staging_keeps_old_keys_until_dropped() -> None:
    material = keyfile.new_key_material()
    staged, retired_field, _retired_index = keyfile.add_rotation_keys(material)
    assert retired_field == [material["field_primary"]]
    assert set(staged["field_keys"]) == {material["field_primary"], staged["field_primary"]}
    pruned = keyfile.drop_retired_keys(staged)
    assert list(pruned["field_keys"]) == [staged["field_primary"]]
    assert list(pruned["index_keys"]) == [staged["index_primary"]]
    assert pruned["pseudonym_key"] == material["pseudonym_key"]


def test_corrupt_key_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="not valid JSON"):
        keyfile.load(path)
    material = keyfile.new_key_material()
    del material["pseudonym_key"]
    path.write_text(json.dumps(material))
    with pytest.raises(KeyringError, match="missing 'pseudonym_key'"):
        keyfile.parse(keyfile.load(path), str(path))
