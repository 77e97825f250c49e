"""Backup and restore drills with real processes, a real database of each kind and a real
S3-compatible server (moto, on 127.0.0.1).

One installation is seeded with a patron whose personal fields carry random markers and with
their events; ``libcrm backup`` writes the archive locally and uploads it; ``libcrm restore``
rebuilds an empty installation from the S3 copy and checks every count; the patron and their
events are then read back through libcrm. Then the failures: a tampered archive, the wrong key,
a restore over data, and a backup SIGKILLed in the middle.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
BUCKET = "libcrm-backups"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.environment import _free_port

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="drill",
        aws_secret_access_key="drill",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def new_home(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Callable[[str], dict[str, str]]]:
    """Makes the environment of a fresh, empty installation (its own home and database)."""
    made: list[str] = []
    parent_url = os.environ.get("DATABASE_URL", "")
    server = parent_url.rsplit("/", 1)[0] if parent_url.startswith("postgres") else ""

    def make(label: str) -> dict[str, str]:
        home = tmp_path_factory.mktemp(f"backup-{label}")
        env = {
            **os.environ,
            "LIBCRM_HOME": str(home),
            "PYTHONPATH": str(REPO),
            "AWS_ACCESS_KEY_ID": "drill",
            "AWS_SECRET_ACCESS_KEY": "drill",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LIBCRM_BACKUP_S3_URL": f"s3://{BUCKET}/{label}",
            "LIBCRM_BACKUP_S3_ENDPOINT": s3_endpoint,
        }
        for name in ("LIBCRM_TEST_DATABASE", "LIBCRM_KEY_FILE", "LIBCRM_DATA_DIR"):
            env.pop(name, None)
        env.pop("LIBCRM_EVENT_STORE_DIR", None)
        if server:
            import psycopg

            name = f"libcrm_backup_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            made.append(name)
            env["DATABASE_URL"] = f"{server}/{name}"
        else:
            env.pop("DATABASE_URL", None)
        return env

    yield make
    if server:
        import psycopg

        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - our own module, run by this interpreter
        [sys.executable, "-m", "libcrm.backup.tests.drill_child", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def libcrm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "libcrm", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def source(new_home: Callable[[str], dict[str, str]]) -> dict:
    env = new_home("source")
    markers = {"text": secrets.token_hex(6), "control": secrets.token_hex(6)}
    seeded = last_json(child(env, "seed", json.dumps(markers)).stdout)
    assert seeded["added"] == 300
    backup = last_json(child(env, "backup").stdout)
    key_file = Path(env["LIBCRM_HOME"]) / "keys" / "libcrm-keys.json"
    return {"env": env, "markers": markers, "backup": backup, "key_file": key_file}


def test_restore_from_the_offsite_copy_into_an_empty_installation(
    source: dict, new_home: Callable[[str], dict[str, str]]
) -> None:
    assert source["backup"]["s3"].startswith(f"s3://{BUCKET}/source/")
    target = new_home("restored")
    target["LIBCRM_KEY_FILE"] = str(source["key_file"])  # the keys travel apart
    done = libcrm(target, "restore", source["backup"]["s3"])
    assert done.returncode == 0, done.stderr
    assert "every checksum and count matches" in done.stdout
    restored = last_json(child(target, "inspect").stdout)
    original = last_json(child(source["env"], "inspect").stdout)
    assert restored["names"] == original["names"] == ["Name" + source["markers"]["text"]]
    assert restored["events"] == original["events"] == 300
    # the restored instance works: it can be backed up again, and its audit chain verifies
    assert last_json(child(target, "backup").stdout)["events"] == 300
    verified = libcrm(target, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_verify_only_checks_the_offsite_copy_and_restores_nothing(source: dict) -> None:
    done = libcrm(source["env"], "restore", "--verify-only", source["backup"]["s3"])
    assert done.returncode == 0, done.stderr
    assert "is intact" in done.stdout and "300 events" in done.stdout


def test_the_archive_holds_no_plaintext_and_no_keys(source: dict) -> None:
    blob = Path(source["backup"]["path"]).read_bytes()
    for marker in (source["markers"]["text"], source["markers"]["control"]):
        assert marker.encode() not in blob
    keys = json.loads(source["key_file"].read_text())
    assert keys["pseudonym_key"].encode() not in blob
    assert keys["secret_key"].encode() not in blob


def test_a_tampered_archive_is_refused_and_nothing_is_restored(
    source: dict, new_home: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    original = Path(source["backup"]["path"])
    tampered = tmp_path / original.name
    blob = bytearray(original.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    tampered.write_bytes(bytes(blob))
    target = new_home("tampered")
    target["LIBCRM_KEY_FILE"] = str(source["key_file"])
    done = libcrm(target, "restore", str(tampered))
    assert done.returncode != 0
    assert "altered or damaged" in done.stderr
    assert not (Path(target["LIBCRM_HOME"]) / "data" / "events" / "_manifest.json").exists()
    # and the local copy with its sidecar checksum is caught before decrypting anything
    shutil.copy(original.with_name(original.name + ".sha256"), tmp_path)
    done = libcrm(target, "restore", str(tampered))
    assert "does not match its recorded checksum" in done.stderr


def test_the_wrong_key_is_refused(source: dict, new_home: Callable[[str], dict[str, str]]) -> None:
    target = new_home("wrongkey")  # its own, new key file
    done = libcrm(target, "restore", source["backup"]["path"])
    assert done.returncode != 0
    assert "the key does not open this archive" in done.stderr


def test_restore_over_existing_data_is_refused(source: dict) -> None:
    done = libcrm(source["env"], "restore", source["backup"]["path"])
    assert done.returncode != 0
    assert "restore needs an empty installation" in done.stderr


@pytest.mark.parametrize("step", ["event store", "data files"])
def test_a_backup_killed_midway_leaves_no_archive_and_the_next_one_works(
    source: dict, step: str
) -> None:
    env = source["env"]
    folder = Path(env["LIBCRM_HOME"]) / "backups"
    before = sorted(p.name for p in folder.glob("*.lcbk"))
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "libcrm.backup.tests.drill_child", "backup", "--pause-at", step],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line).get("step") == step:
            break
    assert list(folder.glob(".*.partial"))  # it was really in the middle of writing
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert sorted(p.name for p in folder.glob("*.lcbk")) == before
    again = last_json(child(env, "backup").stdout)
    assert again["events"] == 300
    assert not list(folder.glob(".*.partial"))  # the next backup swept the leftover
