"""The production settings profile: `libcrm check --deploy` is clean under it, and libcrm refuses
to start in production without the settings that make it safe."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def libcrm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIBCRM_PROFILE", "LIBCRM_ALLOWED_HOSTS", "LIBCRM_SECRET_KEY"))
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    # set by the browser tests for their own process (tests/browser/conftest.py); never in a
    # deployment, and the deploy check rightly refuses it
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "libcrm", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_profile_passes_the_deploy_check() -> None:
    result = libcrm(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        LIBCRM_PROFILE="production",
        LIBCRM_ALLOWED_HOSTS="library.example.org",
        LIBCRM_SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_key_files_secret_is_a_real_one() -> None:
    result = libcrm(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        LIBCRM_PROFILE="production",
        LIBCRM_ALLOWED_HOSTS="library.example.org",
    )
    assert result.returncode == 0, result.stderr


def test_the_development_profile_is_not_fit_for_deployment() -> None:
    result = libcrm("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LIBCRM_SECRET_KEY": secrets.token_urlsafe(50)}, "LIBCRM_ALLOWED_HOSTS"),
        (
            {"LIBCRM_ALLOWED_HOSTS": "library.example.org", "LIBCRM_SECRET_KEY": "short"},
            "LIBCRM_SECRET_KEY",
        ),
        (
            {"LIBCRM_ALLOWED_HOSTS": "library.example.org", "LIBCRM_DEBUG": "1"},
            "LIBCRM_DEBUG",
        ),
        ({"LIBCRM_PROFILE": "staging"}, "LIBCRM_PROFILE"),
    ],
)
def test_production_refuses_to_start_without_safe_settings(env: dict[str, str], named: str) -> None:
    result = libcrm("check", **{"LIBCRM_PROFILE": "production", **env})
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
