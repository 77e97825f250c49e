"""Synthetic events for tests: valid by construction, reproducible from a seed."""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from libcrm.events import schema

TYPES = ["gate_in", "loan", "return", "eresource_access", "web_visit", "space_checkin"]
CHANNELS = ["physical", "web", "app", "wechat"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def patron_key(n: int) -> str:
    """A well-formed patron key, as libcrm.privacy.crypto.pseudonym makes them."""
    digest = hashlib.sha256(f"patron-{n}".encode()).digest()[:15]
    return "pk" + base64.b32encode(digest).decode("ascii").lower()


def event_rows(
    n: int,
    *,
    seed: int = 1,
    patrons: int = 20,
    start: datetime = START,
    days: int = 180,
    source: str = "test",
    id_prefix: str = "e",
) -> list[dict[str, Any]]:
    """``n`` events spread over ``days`` from ``start``, ids ``<prefix><seed>-<i>``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "event_id": f"{id_prefix}{seed}-{i}",
                "patron_key": patron_key(rng.randrange(patrons)),
                "occurred_at": start
                + timedelta(
                    seconds=rng.randrange(days * 86_400), microseconds=rng.randrange(1_000_000)
                ),
                "type": rng.choice(TYPES),
                "channel": rng.choice(CHANNELS),
                "branch": rng.choice(["main", "north", None]),
                "space": None,
                "item_id": f"item-{rng.randrange(500)}" if rng.random() < 0.5 else None,
                "subject": rng.choice(["TP311", "I247", None]),
                "quantity": 1.0 if rng.random() < 0.3 else None,
                "duration_s": rng.randrange(3600) if rng.random() < 0.2 else None,
                "source": source,
                "attrs": {"via": "test"} if rng.random() < 0.1 else None,
            }
        )
    return rows


def event_table(n: int, **kwargs: Any) -> pa.Table:
    return pa.Table.from_pylist(event_rows(n, **kwargs), schema=schema.INPUT_SCHEMA)
