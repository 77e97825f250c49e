"""Shared by the raw-file probes (plaintext at rest, no trace after erasure): run a script in a
fresh installation in its own process, and search every file under a folder for byte strings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_in_fresh_install(
    home: Path, script: str, argument: str, database_url: str | None
) -> subprocess.CompletedProcess[str]:
    """``libcrm migrate`` then ``python -c script argument`` with ``LIBCRM_HOME=home``, logging at
    DEBUG; what the process logged is kept in ``home/process.log`` (the probes search it too)."""
    env = {
        **os.environ,
        "LIBCRM_HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "libcrm.settings",
        "LIBCRM_LOG_LEVEL": "DEBUG",
    }
    env.pop("DATABASE_URL", None)
    env.pop("LIBCRM_EVENT_STORE_DIR", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run(
        [sys.executable, "-m", "libcrm", "migrate", "--no-input", "-v", "0"],
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-c", script, argument], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (home / "process.log").write_text(done.stderr)
    return done


def byte_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """needle → the files under ``root`` whose raw bytes contain it (UTF-8)."""
    hits: dict[str, list[str]] = {}
    encoded = [(n, n.encode()) for n in needles]
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for needle, raw in encoded:
            if raw in data:
                hits.setdefault(needle, []).append(str(path.relative_to(root)))
    return hits
