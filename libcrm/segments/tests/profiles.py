"""A small hand-made profile table whose memberships are known for every operator."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from libcrm.segments.rules import catalogue_of

AS_OF = date(2026, 6, 30)

CATALOGUE = catalogue_of(
    {
        "loans_365d": "int",
        "night_share_365d": "float",
        "last_seen": "date",
        "category": "text",
        "top_subjects_365d": "list",
        "consents_to_email": "bool",
    }
)

PROFILE = pa.table(
    {
        "patron_key": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "loans_365d": pa.array([0, 3, 12, 40, None, 7], pa.int64()),
        "night_share_365d": pa.array([None, 0.1, 0.5, 0.9, None, 0.25], pa.float64()),
        "last_seen": pa.array(
            [
                date(2026, 6, 30),  # today
                date(2026, 6, 1),  # 29 days ago
                date(2026, 4, 1),  # 90 days ago
                date(2025, 1, 15),  # more than a year ago
                None,
                date(2026, 5, 31),  # 30 days ago
            ],
            pa.date32(),
        ),
        "category": pa.array(["undergraduate", "graduate", "graduate", "faculty", None, ""]),
        "top_subjects_365d": pa.array(
            [["T", "I"], ["O"], [], ["T"], None, ["I", "K", "T"]], pa.list_(pa.string())
        ),
        "consents_to_email": pa.array([True, False, True, None, False, True], pa.bool_()),
    }
)
