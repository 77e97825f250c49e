"""Key rotation: everything is re-sealed and re-indexed under new keys, the old keys go, and an
interrupted rotation leaves readable data and is finished by running it again.

Each test rotates a private copy of the session's key file, never the session's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from libcrm.patrons.errors import PatronError
from libcrm.patrons.models import Household, Patron
from libcrm.patrons.selectors import PatronFilters, find_patron_by_identifier, search_patrons
from libcrm.patrons.services import create_household, join_household
from libcrm.privacy import keyfile, rotation
from libcrm.privacy.actors import Actor
from libcrm.privacy.keys import reload_keyring
from libcrm.privacy.models import AuditAction, AuditEvent

PHONE = "138 0013 8000"
EMAIL = "Zhang.Wei@Example.org"
OPENID = "oMdL7abcdefghijklmnopqrstuv"
CARD = "TC-ROT-0001"


@pytest.fixture
def people(key_file: Path, make_patron: Callable[..., Any], actor: Actor) -> dict[str, Any]:
    zhang = make_patron(
        name="张伟",
        address="学府路88号明德花园3栋502室",
        notes="需要无障碍座位",
        identifiers=[
            {"kind": "library_card", "value": CARD},
            {"kind": "phone", "value": PHONE},
            {"kind": "email", "value": EMAIL},
        ],
    )
    smith = make_patron(
        name="Emma Smith",
        category="visitor",
        identifiers=[
            {"kind": "library_card", "value": "TC-ROT-0002"},
            {"kind": "wechat_openid", "value": OPENID + "w"},
            {"kind": "national_id", "value": "11010519491231002X"},
        ],
    )
    household = create_household(actor, "张伟家", "学府路88号")
    join_household(actor, zhang, household, "head")
    return {"zhang": zhang, "smith": smith, "household": household}


def raw_values() -> dict[str, list[str]]:
    """Every stored ciphertext, read with plain SQL (no field decoding)."""
    found: dict[str, list[str]] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for column in rotation.encrypted_columns():
            table, name = column.model._meta.db_table, column.field.column
            cursor.execute(
                f"SELECT {quote(name)} FROM {quote(table)} "  # noqa: S608
                f"WHERE {quote(name)} IS NOT NULL AND {quote(name)} <> ''"
            )
            found[column.label] = [row[0] for row in cursor.fetchall()]
    return found


def key_ids(values: dict[str, list[str]]) -> set[str]:
    return {token.partition(":")[0] for tokens in values.values() for token in tokens}


def assert_readable_and_findable(people: dict[str, Any]) -> None:
    zhang = Patron.objects.get(pk=people["zhang"].pk)
    assert zhang.name == "张伟"
    assert zhang.address == "学府路88号明德花园3栋502室"
    assert zhang.notes == "需要无障碍座位"
    assert Household.objects.get(pk=people["household"].pk).label == "张伟家"
    assert sorted(i.value for i in zhang.identifiers.all()) == sorted(
        [CARD, "+8613800138000", EMAIL.lower()]
    )
    assert find_patron_by_identifier("phone", "13800138000") == zhang
    assert find_patron_by_identifier("email", EMAIL) == zhang
    assert find_patron_by_identifier("library_card", CARD.lower()) == zhang
    assert find_patron_by_identifier("national_id", "11010519491231002x") == people["smith"]
    assert list(search_patrons(PatronFilters(query="张伟"))) == [zhang]
    assert list(search_patrons(PatronFilters(query="zhang wei"))) == [zhang]
    assert list(search_patrons(PatronFilters(query="smith"))) == [people["smith"]]
    assert Patron.objects.get(pk=people["smith"].pk).name == "Emma Smith"


def simulate_restart(path: Path) -> None:
    """What a fresh process sees: the key material on disk, nothing from memory."""
    rotation.use_key_material(keyfile.load(path))


def test_rotate_keys_reseals_every_value_and_retires_the_old_keys(
    key_file: Path, people: dict[str, Any]
) -> None:
    before = keyfile.load(key_file)
    old_tokens = raw_values()
    assert key_ids(old_tokens) == {before["field_primary"]}

    out = StringIO()
    call_command("rotate_keys", stdout=out)

    after = keyfile.load(key_file)
    assert list(after["field_keys"]) == [after["field_primary"]]
    assert list(after["index_keys"]) == [after["index_primary"]]
    assert after["field_primary"] not in before["field_keys"]
    assert after["index_primary"] not in before["index_keys"]
    # The pseudonym key and Django's secret are not rotated: patron_keys and sessions survive.
    assert after["pseudonym_key"] == before["pseudonym_key"]
    assert after["secret_key"] == before["secret_key"]

    new_tokens = raw_values()
    assert key_ids(new_tokens) == {after["field_primary"]}
    assert {len(v) for v in new_tokens.values()} == {len(v) for v in old_tokens.values()}
    flat_old = {t for tokens in old_tokens.values() for t in tokens}
    assert not flat_old & {t for tokens in new_tokens.values() for t in tokens}

    simulate_restart(key_file)
    assert_readable_and_findable(people)
    assert Patron.objects.get(pk=people["zhang"].pk).patron_key == people["zhang"].patron_key

    output = out.getvalue()
    total = sum(len(v) for v in new_tokens.values())
    assert f"re-sealed {total} values with field key {after['field_primary']}" in output
    assert f"retired field keys {before['field_primary']}" in output
    event = AuditEvent.objects.get(action=AuditAction.ROTATE_KEYS)
    assert event.detail["values_resealed"] == total


def test_identifiers_stay_unique_after_rotation(
    key_file: Path, people: dict[str, Any], make_patron: Callable[..., Any]
) -> None:
    rotation.rotate_keys(Actor.system("test"))
    with pytest.raises(PatronError, match="already belongs to a patron"):
        make_patron(identifiers=[{"kind": "phone", "value": PHONE}])


def test_a_crash_after_staging_keeps_data_readable_and_a_rerun_finishes(
    key_file: Path, people: dict[str, Any], make_patron: Callable[..., Any]
) -> None:
    original = keyfile.load(key_file)
    staged = rotation.stage_keys(key_file)  # step 1 done, then the process dies
    simulate_restart(key_file)

    on_disk = keyfile.load(key_file)
    assert set(on_disk["field_keys"]) == {original["field_primary"], on_disk["field_primary"]}
    assert_readable_and_findable(people)
    # Writes made meanwhile use the staged key and are just as readable.
    newcomer = make_patron(name="林晓", identifiers=[{"kind": "phone", "value": "13900139000"}])
    assert key_ids(raw_values()) == {original["field_primary"], staged.material["field_primary"]}

    report = rotation.rotate_keys(Actor.system("test"))

    assert report.resumed
    assert report.retired_field_keys == [original["field_primary"]]
    final = keyfile.load(key_file)
    assert final["field_primary"] == staged.material["field_primary"]  # no third key was made
    assert list(final["field_keys"]) == [final["field_primary"]]
    assert list(final["index_keys"]) == [final["index_primary"]]
    assert key_ids(raw_values()) == {final["field_primary"]}
    simulate_restart(key_file)
    assert_readable_and_findable(people)
    assert find_patron_by_identifier("phone", "13900139000") == newcomer
    assert list(search_patrons(PatronFilters(query="lin xiao"))) == [newcomer]


def test_a_crash_after_resealing_keeps_data_readable_and_a_rerun_retires_the_keys(
    key_file: Path, people: dict[str, Any]
) -> None:
    staged = rotation.stage_keys(key_file)
    rotation.use_key_material(staged.material)
    rotation.reseal(Actor.system("test"), staged.retired_field_keys, staged.retired_index_keys)
    simulate_restart(key_file)  # the key file still lists the old keys

    assert key_ids(raw_values()) == {staged.material["field_primary"]}
    assert_readable_and_findable(people)

    report = rotation.rotate_keys(Actor.system("test"))

    assert report.resumed and report.values_resealed == 0
    final = keyfile.load(key_file)
    assert set(final["field_keys"]) == {staged.material["field_primary"]}
    assert set(final["index_keys"]) == {staged.material["index_primary"]}
    simulate_restart(key_file)
    assert_readable_and_findable(people)


def test_old_keys_are_kept_while_any_value_still_needs_them(
    key_file: Path, people: dict[str, Any]
) -> None:
    staged = rotation.stage_keys(key_file)
    with pytest.raises(rotation.RotationError, match=r"patrons\.Patron\.name \(2\)"):
        rotation.retire_keys(key_file, staged.material)
    assert keyfile.load(key_file) == staged.material
    simulate_restart(key_file)
    assert_readable_and_findable(people)


def test_a_failure_while_writing_the_key_file_leaves_the_old_one_whole(
    key_file: Path, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = key_file.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        rotation.rotate_keys(Actor.system("test"))
    monkeypatch.undo()

    assert key_file.read_bytes() == before
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no half-written file
    simulate_restart(key_file)
    assert_readable_and_findable(people)
    rotation.rotate_keys(Actor.system("test"))
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]
    simulate_restart(key_file)
    assert_readable_and_findable(people)


def test_rotation_refuses_while_a_server_holds_the_keys(
    key_file: Path, people: dict[str, Any]
) -> None:
    before = keyfile.load(key_file)
    holders = key_file.parent.parent / "run"
    holders.mkdir()
    running = holders / "libcrm-serve.1.json"
    running.write_text(json.dumps({"pid": os.getppid(), "label": "libcrm-serve"}))

    with pytest.raises(CommandError, match=r"libcrm-serve \(pid \d+\) is running"):
        call_command("rotate_keys", stdout=StringIO())
    assert keyfile.load(key_file) == before

    # A record left by a process that died is cleared, not obeyed.
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    running.write_text(json.dumps({"pid": int(finished.stdout), "label": "libcrm-serve"}))
    rotation.rotate_keys(Actor.system("test"))
    assert not running.exists()
    assert keyfile.load(key_file)["field_primary"] != before["field_primary"]


def test_a_value_that_does_not_open_stops_the_rotation_before_any_key_is_dropped(
    key_file: Path, people: dict[str, Any]
) -> None:
    original = keyfile.load(key_file)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patrons_patron SET notes = %s WHERE id = %s",
            ["deadbeef:AAAA", people["smith"].pk],
        )
    with pytest.raises(CommandError, match=r"cannot re-seal patrons\.Patron\.notes"):
        call_command("rotate_keys", stdout=StringIO())
    on_disk = keyfile.load(key_file)
    assert original["field_primary"] in on_disk["field_keys"]
    simulate_restart(key_file)
    assert Patron.objects.get(pk=people["zhang"].pk).name == "张伟"


def test_keys_from_the_environment_are_rotated_with_reseal_only(
    key_file: Path, people: dict[str, Any]
) -> None:
    old = keyfile.load(key_file)
    # The operator added new keys to the secret store and made them primary.
    with_new, retired_field, retired_index = keyfile.add_rotation_keys(old)
    with override_settings(
        LIBCRM_KEY_SOURCE="environment variable LIBCRM_KEYS", LIBCRM_KEY_MATERIAL=with_new
    ):
        reload_keyring()
        with pytest.raises(CommandError, match="rotate them in your secret store"):
            call_command("rotate_keys", stdout=StringIO())
        out = StringIO()
        call_command("rotate_keys", reseal_only=True, stdout=out)

        assert key_ids(raw_values()) == {with_new["field_primary"]}
        # Only the new keys remain needed: the old ones can leave the secret store.
        without_old = keyfile.drop_retired_keys(with_new)
        rotation.use_key_material(without_old)
        assert_readable_and_findable(people)
    assert keyfile.load(key_file) == old  # the key file was not touched
    output = out.getvalue()
    assert "remove them from LIBCRM_KEYS" in output
    assert retired_field[0] in output and retired_index[0] in output
