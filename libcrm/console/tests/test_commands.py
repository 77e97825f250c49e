"""``libcrm doctor`` finds what is wrong and says how to fix it; ``libcrm serve`` serves and stops.

Key-related checks run against a private copy of the session's key file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from libcrm.console import doctor
from libcrm.console.doctor import Finding, Status
from libcrm.patrons.models import Patron
from libcrm.privacy import keyfile, rotation

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def healthy(
    key_file: Path, make_staff: Callable[..., Any], make_patron: Callable[..., Any]
) -> Path:
    make_staff("administrator")
    make_patron(name="李娜", identifiers=[{"kind": "phone", "value": "13800138000"}])
    return key_file


def findings() -> list[Finding]:
    return [f for section in doctor.run_checks() for f in section.findings]


def problems() -> list[Finding]:
    return [f for f in findings() if f.status is Status.ERROR]


def run_doctor() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("doctor", stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


# -- doctor -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_healthy_install_is_reported_healthy(healthy: Path) -> None:
    assert problems() == []
    code, output = run_doctor()
    assert code == 0
    assert "✘" not in output
    assert f"keys come from the key file {healthy}" in output
    assert "encrypted values open with the keyring" in output
    assert "findable by search" in output
    assert "1 active administrator" in output


@pytest.mark.django_db
def test_a_key_file_readable_by_others_fails_with_the_chmod_fix(healthy: Path) -> None:
    healthy.chmod(0o644)
    [problem] = problems()
    assert "readable by others (mode 644)" in problem.message
    assert problem.fix == f"chmod 600 {healthy}"
    code, output = run_doctor()
    assert code == 1
    assert f"✘ key file {healthy} is readable by others" in output
    assert f"fix: chmod 600 {healthy}" in output


@pytest.mark.django_db
def test_a_key_folder_writable_by_others_fails_with_the_chmod_fix(healthy: Path) -> None:
    healthy.parent.chmod(0o777)
    try:
        [problem] = problems()
    finally:
        healthy.parent.chmod(0o700)
    assert problem.fix == f"chmod 700 {healthy.parent}"


@pytest.mark.django_db
def test_unapplied_migrations_say_to_run_migrate(healthy: Path) -> None:
    # the newest patrons migration: Django plans an unapplied migration only if its children are
    # unapplied too
    newest = MigrationRecorder(connection).migration_qs.filter(app="patrons").latest("name")
    newest.delete()
    [problem] = problems()
    assert "migrations not applied" in problem.message
    assert f"patrons.{newest.name}" in problem.message
    assert problem.fix == "libcrm migrate"
    assert run_doctor()[0] == 1


@pytest.mark.django_db
def test_an_interrupted_rotation_is_a_warning_pointing_to_rotate_keys(healthy: Path) -> None:
    staged = rotation.stage_keys(healthy)
    rotation.use_key_material(staged.material)
    warnings = [f for f in findings() if f.status is Status.WARNING]
    assert any("interrupted" in w.message and "libcrm rotate-keys" in w.fix for w in warnings)
    assert any("still sealed with retired keys" in w.message for w in warnings)
    code, output = run_doctor()
    assert code == 0 and "! the key file still holds retired keys" in output


@pytest.mark.django_db
def test_values_sealed_with_a_key_not_in_the_keyring_are_an_error(healthy: Path) -> None:
    fresh = keyfile.new_key_material()  # as if the key file had been lost and recreated
    keyfile.write_atomic(healthy, fresh)
    rotation.use_key_material(fresh)
    [problem] = problems()
    assert problem.message.startswith("patrons.Patron.name: values sealed with keys")
    assert "not in the keyring" in problem.message
    assert "restore the key file" in problem.fix


@pytest.mark.django_db
def test_a_tampered_value_is_reported_with_its_table_and_row(healthy: Path) -> None:
    patron = Patron.objects.get()
    with connection.cursor() as cursor:  # a real ciphertext, but of another column
        cursor.execute("SELECT value FROM patrons_identifier")
        foreign = cursor.fetchone()[0]
        cursor.execute("UPDATE patrons_patron SET name = %s WHERE id = %s", [foreign, patron.pk])
    [problem] = problems()
    assert f"patrons.Patron.name (table patrons_patron.name, row {patron.pk})" in problem.message
    assert "failed authentication" in problem.message


@pytest.mark.django_db
def test_digests_made_with_a_lost_index_key_are_an_error_fixed_by_resealing(
    healthy: Path,
) -> None:
    material = keyfile.load(healthy)
    replaced = keyfile.new_key_material()
    material["index_keys"] = replaced["index_keys"]
    material["index_primary"] = replaced["index_primary"]
    keyfile.write_atomic(healthy, material)
    rotation.use_key_material(material)
    [problem] = problems()
    assert "cannot be found by a search" in problem.message
    assert problem.fix.startswith("libcrm rotate-keys --reseal-only")

    call_command("rotate_keys", reseal_only=True, stdout=StringIO())
    assert problems() == []


@pytest.mark.django_db
def test_no_active_administrator_says_how_to_add_one(key_file: Path) -> None:
    [problem] = problems()
    assert problem.message.startswith("no active administrator")
    assert problem.fix == "libcrm add-staff --username <name> --role administrator"


@pytest.mark.django_db
def test_a_missing_role_says_to_run_migrate(healthy: Path) -> None:
    Group.objects.filter(name="analyst").delete()
    [problem] = problems()
    assert problem.message == "roles missing: analyst"
    assert problem.fix.startswith("libcrm migrate")


@pytest.mark.django_db
def test_debug_on_is_a_warning(healthy: Path, settings: Any) -> None:
    settings.DEBUG = True
    [warning] = [f for f in findings() if f.message.startswith("DEBUG")]
    assert warning.status is Status.WARNING
    assert "LIBCRM_DEBUG" in warning.fix
    assert run_doctor()[0] == 0


def test_a_missing_data_folder_says_how_to_create_it(tmp_path: Path) -> None:
    [problem] = doctor.check_data_folder(tmp_path / "absent", holds_database=True)
    assert problem.status is Status.ERROR
    assert problem.fix.startswith(f"mkdir -p -m 700 {tmp_path / 'absent'}")
    # Without the SQLite database in it, the folder is created when first needed.
    [note] = doctor.check_data_folder(tmp_path / "absent", holds_database=False)
    assert note.status is Status.WARNING


def test_a_data_folder_open_to_others_is_a_warning(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    statuses = {f.status for f in doctor.check_data_folder(tmp_path)}
    assert Status.WARNING in statuses and Status.ERROR not in statuses


# -- serve --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_answers_on_its_port_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "LIBCRM_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "libcrm", "serve", "--port", str(port), "--threads", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "libcrm serve did not start listening"
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        status, _type, _body = _get(f"{base}/accounts/login/")
        assert status < 500
        status, content_type, body = _get(f"{base}/static/console/console.css")
        assert status == 200 and content_type.startswith("text/css") and body
        assert list((tmp_path / "run").glob("libcrm-serve.*.json")), "serve announces itself"

        process.send_signal(stop)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"libcrm is serving on {base}/" in output
    assert f"sign in at {base}/accounts/login/" in output
    assert output.rstrip().endswith("Stopped.")
    assert "Traceback" not in output
    assert not list((tmp_path / "run").glob("*.json")), "its record is gone once it stops"


@pytest.mark.django_db
def test_serve_explains_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            call_command("serve", port=str(port), stdout=StringIO())


def test_serve_rejects_a_bad_port(settings: Any) -> None:
    settings.LIBCRM_PORT = "eighty"  # as read from PORT / LIBCRM_PORT
    with pytest.raises(CommandError, match="PORT must be a port number, not 'eighty'"):
        call_command("serve", stdout=StringIO())
    with pytest.raises(CommandError, match="--port must be between 0 and 65535"):
        call_command("serve", port="70000", stdout=StringIO())
