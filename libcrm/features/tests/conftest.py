"""Fixtures of the feature tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def installed(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.LIBCRM_FEATURES_DIR = tmp_path / "features"
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.LIBCRM_24H_BRANCHES = ("24h",)
    settings.LIBCRM_ANALYTICS_ENGINE = "duckdb"
    settings.LIBCRM_FEATURES_ON_APPEND = False
    return tmp_path
