"""Small-group suppression: no hidden figure may be shown or worked out from what is shown."""

from __future__ import annotations

import itertools
import random

import pytest

from libcrm.insight.aggregates import (
    Breakdown,
    Mark,
    hidden_cells,
    suppress_breakdown,
    suppress_count,
    suppress_series,
)

K = 5


def groups(*counts: int) -> list[tuple[str, str, int]]:
    return [(f"g{i}", f"Group {i}", n) for i, n in enumerate(counts)]


def shown(breakdown: Breakdown) -> list[int | None]:
    return [cell.count for cell in breakdown.cells]


def assert_nothing_recoverable(breakdown: Breakdown, counts: list[int], k: int) -> None:
    """What a reader can do: subtract the shown cells from the shown total. The hidden cells
    share what is left; no hidden cell's value may follow from that."""
    hidden = [n for cell, n in zip(breakdown.cells, counts, strict=True) if cell.hidden]
    for cell, n in zip(breakdown.cells, counts, strict=True):
        if 0 < n < k:
            assert cell.hidden, f"a group of {n} is shown"
        assert cell.hidden == (cell.count is None)
    assert breakdown.total is not None
    if breakdown.total.hidden or not hidden:
        return
    left = breakdown.total.count - sum(c.count for c in breakdown.cells if c.count is not None)
    assert left == sum(hidden)
    # Each hidden cell is at least 1 (zeros are shown). With at least two hidden cells sharing
    # more than one patron each on average, every hidden cell has at least two possible values.
    assert len(hidden) >= 2
    assert left > len(hidden)
    assert left >= k


def test_nothing_is_hidden_when_every_group_is_large_enough() -> None:
    breakdown = suppress_breakdown(groups(12, 5, 40), K)
    assert shown(breakdown) == [12, 5, 40]
    assert breakdown.total is not None and breakdown.total.count == 57
    assert not any(cell.hidden for cell in breakdown.cells)


def test_a_small_group_is_hidden_with_the_smallest_other_group() -> None:
    breakdown = suppress_breakdown(groups(40, 3, 9, 12), K)
    # 3 alone would be 64 − 40 − 9 − 12; hiding 9 as well leaves 12 shared by two cells.
    assert shown(breakdown) == [40, None, None, 12]
    assert breakdown.total is not None and breakdown.total.count == 64
    assert_nothing_recoverable(breakdown, [40, 3, 9, 12], K)


def test_every_hidden_cell_looks_the_same() -> None:
    breakdown = suppress_breakdown(groups(40, 3, 9, 12), K)
    assert {cell.mark for cell in breakdown.cells if cell.hidden} == {Mark.HIDDEN}


def test_two_small_groups_that_together_reach_k_protect_each_other() -> None:
    breakdown = suppress_breakdown(groups(3, 4, 20), K)
    assert shown(breakdown) == [None, None, 20]
    assert_nothing_recoverable(breakdown, [3, 4, 20], K)


def test_small_groups_below_k_together_take_a_larger_group_with_them() -> None:
    breakdown = suppress_breakdown(groups(1, 2, 10, 30), K)
    assert shown(breakdown) == [None, None, None, 30]
    assert_nothing_recoverable(breakdown, [1, 2, 10, 30], K)


def test_empty_groups_are_shown_and_never_used_to_protect_others() -> None:
    breakdown = suppress_breakdown(groups(0, 2, 0, 8, 20), K)
    assert shown(breakdown) == [0, None, 0, None, 20]


def test_a_set_of_ones_is_not_protected_by_its_size_alone() -> None:
    # Five hidden cells summing to five would each be 1: with nothing else to hide, the total goes.
    breakdown = suppress_breakdown(groups(1, 1, 1, 1, 1), K)
    assert all(cell.hidden for cell in breakdown.cells)
    assert breakdown.total is not None and breakdown.total.hidden


def test_a_population_smaller_than_k_hides_its_total() -> None:
    breakdown = suppress_breakdown(groups(2, 1, 0), K)
    assert shown(breakdown) == [None, None, 0]
    assert breakdown.total is not None and breakdown.total.count is None


def test_the_order_of_groups_is_kept_so_position_does_not_reveal_size() -> None:
    breakdown = suppress_breakdown(groups(9, 30, 2, 50), K)
    assert [cell.key for cell in breakdown.cells] == ["g0", "g1", "g2", "g3"]


def test_k_of_one_hides_nothing() -> None:
    assert shown(suppress_breakdown(groups(1, 2, 3), 1)) == [1, 2, 3]


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        suppress_breakdown(groups(3, -1), K)


def test_random_breakdowns_never_leave_a_hidden_cell_recoverable() -> None:
    rng = random.Random(20240608)
    for _ in range(2000):
        size = rng.randint(1, 8)
        counts = [rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 13, 40]) for _ in range(size)]
        k = rng.randint(2, 10)
        assert_nothing_recoverable(suppress_breakdown(groups(*counts), k), counts, k)


def test_every_small_vector_is_protected_exhaustively() -> None:
    for counts in itertools.product([0, 1, 2, 4, 5, 7], repeat=4):
        assert_nothing_recoverable(suppress_breakdown(groups(*counts), K), list(counts), K)


def test_hidden_cells_returns_indexes() -> None:
    assert hidden_cells([10, 2, 6, 30], K) == {1, 2}
    assert hidden_cells([10, 20], K) == set()


def test_a_series_hides_only_its_small_points_and_says_fewer_than_k() -> None:
    series = suppress_series(groups(0, 3, 12, 4), K)
    assert shown(series) == [0, None, 12, None]
    assert series.total is None
    assert [cell.mark for cell in series.cells] == [
        None,
        Mark.FEWER_THAN_K,
        None,
        Mark.FEWER_THAN_K,
    ]


def test_a_stand_alone_figure() -> None:
    assert suppress_count("new", "New", 4, K).mark is Mark.FEWER_THAN_K
    assert suppress_count("new", "New", 4, K).count is None
    assert suppress_count("new", "New", 5, K).count == 5
    assert suppress_count("new", "New", 0, K).count == 0


def test_largest_shown_ignores_hidden_cells() -> None:
    breakdown = suppress_breakdown(groups(40, 3, 9, 12), K)
    assert breakdown.largest_shown == 40
    assert breakdown.cell("g3").count == 12
    with pytest.raises(KeyError):
        breakdown.cell("nope")
