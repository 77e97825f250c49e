"""The world's parts on their own: the academic calendar, name variants, the seeded draws and
the catalogue's classes. No database needed."""

from __future__ import annotations

import ast
import random
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pypinyin import Style, lazy_pinyin

from libcrm.catalog.classification import parse_class_number
from libcrm.world import campus
from libcrm.world.name_variants import HOMOPHONES, homophone_typo, latin_variant, pinyin_name
from libcrm.world.rng import Draws, repeat_indices
from libcrm.world.seasons import Phase, academic_calendar, public_holidays
from libcrm.world.subjects import DISCIPLINE_POOLS, POOLS


def test_the_year_has_its_terms_exams_and_holidays() -> None:
    days = {d.day: d for d in academic_calendar(date(2025, 9, 1), date(2026, 8, 31))}
    assert days[date(2025, 10, 1)].holiday == "国庆节" and days[date(2025, 10, 7)].holiday
    assert days[date(2026, 2, 17)].holiday == "春节"  # 初一 of the year of the horse
    assert days[date(2026, 2, 16)].campus_closed and days[date(2026, 2, 16)].community_closed
    assert not days[date(2026, 2, 19)].community_closed and days[date(2026, 2, 19)].campus_closed
    assert days[date(2025, 11, 12)].phase == Phase.TERM
    exams = {d.day.month for d in days.values() if d.phase == Phase.EXAM}
    assert exams <= {1, 6} and exams == {1, 6}
    assert days[date(2026, 2, 10)].phase == Phase.WINTER
    assert days[date(2026, 3, 10)].phase == Phase.TERM
    assert days[date(2026, 8, 1)].phase == Phase.SUMMER
    assert days[date(2025, 9, 1)].phase == Phase.TERM  # a Monday: the autumn term starts
    assert set(public_holidays(2026).values()) == {
        "元旦", "春节", "清明节", "劳动节", "端午节", "国庆节", "中秋节",
    }  # fmt: skip


def test_homophones_sound_alike() -> None:
    for char, alikes in HOMOPHONES.items():
        for other in alikes:
            assert lazy_pinyin(other, style=Style.NORMAL) == lazy_pinyin(char, style=Style.NORMAL)


def test_name_variants() -> None:
    rng = random.Random(3)
    typo = homophone_typo("张伟", rng)
    assert typo != "张伟" and len(typo) == 2
    assert {pinyin_name("张伟", random.Random(i)) for i in range(40)} >= {
        "Zhang Wei", "ZHANG Wei", "Wei Zhang", "zhang wei",
    }  # fmt: skip
    assert pinyin_name("欧阳娜娜", rng).lower().replace(" ", "") in ("ouyangnana", "nanaouyang")
    assert {latin_variant("Lukas Müller", random.Random(i)) for i in range(40)} & {
        "Lukas Muller", "MÜLLER Lukas",
    }  # fmt: skip


def test_draws_are_seeded_and_shaped() -> None:
    assert Draws(1, "a").uniform(5).equals(Draws(1, "a").uniform(5))
    assert not Draws(1, "a").uniform(5).equals(Draws(1, "b").uniform(5))
    counts = Draws(2, "p").poisson(pa.array([0.5] * 200_000))
    assert abs(pc.mean(counts).as_py() - 0.5) < 0.01
    picks = Draws(2, "c").categorical(100_000, (1, 3))
    assert abs(pc.mean(picks).as_py() - 0.75) < 0.01
    rows = Draws(2, "r").categorical_rows(pa.array([0, 1] * 50_000), [[1, 0], [0, 1]])
    assert rows.to_pylist()[:4] == [0, 1, 0, 1]
    assert repeat_indices(pa.array([0, 2, 1])).to_pylist() == [1, 1, 2]


def test_every_subject_pool_class_is_clc_and_disciplines_read_known_pools() -> None:
    codes = {p.code for p in POOLS}
    for pool in POOLS:
        for code in pool.clc:
            assert parse_class_number("clc", code).code == code
    for pools in DISCIPLINE_POOLS.values():
        assert set(pools) <= codes


def test_every_gate_belongs_to_a_branch_with_opening_hours() -> None:
    branches = {b.code for b in campus.BRANCHES}
    assert {g.branch for g in campus.GATES} == branches
    assert set(campus.OPENING_HOURS) == branches == set(campus.SPACES)


@pytest.mark.parametrize(
    "module",
    ["rng", "seasons", "groups", "population", "activity", "circulation", "eresources",
     "online", "programmes", "catalogue", "subjects", "duplicates", "name_variants", "world",
     "sources", "truth", "export"],
)  # fmt: skip
def test_the_world_is_pure(module: str) -> None:
    tree = ast.parse((Path(campus.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [name for name in imported if name.startswith("django")]
