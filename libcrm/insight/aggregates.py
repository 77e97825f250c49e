"""Small-group suppression for the figures shown to staff (k-anonymity style), as pure functions.

A figure about fewer than ``k`` patrons (``settings.LIBCRM_MIN_GROUP_SIZE``) could point at a
person — "the one visiting scholar in the law school" — so it is never shown. Hiding it is not
enough when the table also shows its total: the hidden cell would be the total minus the shown
cells. So a breakdown hides more cells, until the hidden ones together cannot be worked out:

* **primary suppression** hides every group of 1 to k−1 patrons (groups of 0 are shown: they
  describe nobody);
* **complementary suppression** then hides the smallest shown groups, one by one, until at least
  two cells are hidden, they hold at least k patrons together, and they are not all ones (five
  hidden cells summing to five would each be 1);
* every hidden cell of a breakdown looks the same (:attr:`Mark.HIDDEN`), so a reader cannot tell
  a small group from a cell hidden to protect it — marking them differently would give the
  complement a lower bound of k and, with the total, the small group's exact size;
* if that cannot be reached (every non-empty cell is already hidden), the total is hidden too.

We chose complementary suppression over rounding the total because rounding leaves exact values
recoverable near the rounding edges, while in a hidden set as above every cell can still take at
least two values. (It protects one snapshot: comparing the page on two days can still show that
a group grew by one; hiding that needs noise or delayed publication, which we leave for later.)
Cells are listed in a fixed order (category order, code order), never by size, so a hidden
cell's position does not reveal its rank.

A stand-alone figure or a point of a time series with no total beside it needs only primary
suppression; it is shown as "fewer than k" (:attr:`Mark.FEWER_THAN_K`), which is then true.
Figures taken from a breakdown (active patrons from the status breakdown) must be read from the
suppressed breakdown, never counted again, so that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Mark(StrEnum):
    FEWER_THAN_K = "fewer_than_k"
    """A stand-alone figure or series point of 1 to k−1: shown as "<k"."""
    HIDDEN = "hidden"
    """A breakdown cell hidden because it is small or to protect a small one: shown as hidden."""


@dataclass(frozen=True)
class Cell:
    """One figure: ``count`` is ``None`` whenever ``mark`` says it is hidden."""

    key: str
    label: str
    count: int | None
    mark: Mark | None = None

    @property
    def hidden(self) -> bool:
        return self.mark is not None


@dataclass(frozen=True)
class Breakdown:
    """Counts of one population split by one attribute; ``total`` is ``None`` for a series."""

    cells: tuple[Cell, ...]
    total: Cell | None
    k: int

    @property
    def largest_shown(self) -> int:
        return max((c.count for c in self.cells if c.count is not None), default=0)

    def cell(self, key: str) -> Cell:
        for cell in self.cells:
            if cell.key == key:
                return cell
        raise KeyError(key)


Group = tuple[str, str, int]
"""(key, label, count) of one group, in display order."""


def suppress_count(key: str, label: str, count: int, k: int) -> Cell:
    """A stand-alone figure: hidden as "fewer than k" when it counts 1 to k−1 patrons."""
    if 0 < count < k:
        return Cell(key, label, None, Mark.FEWER_THAN_K)
    return Cell(key, label, count)


def _protected(counts: list[int], hidden: set[int], k: int) -> bool:
    """Whether the hidden cells, known only through the total, leave each one undetermined."""
    hidden_sum = sum(counts[i] for i in hidden)
    return len(hidden) >= 2 and hidden_sum >= k and hidden_sum > len(hidden)


def hidden_cells(counts: list[int], k: int) -> set[int]:
    """Indexes of the cells to hide so that no hidden count follows from the shown total."""
    hidden = {i for i, n in enumerate(counts) if 0 < n < k}
    while hidden and not _protected(counts, hidden, k):
        candidates = [i for i, n in enumerate(counts) if i not in hidden and n > 0]
        if not candidates:
            break  # every non-empty cell is hidden: the total must go too (see below)
        hidden.add(min(candidates, key=lambda i: (counts[i], i)))
    return hidden


def suppress_breakdown(groups: Iterable[Group], k: int, total_label: str = "Total") -> Breakdown:
    """Apply primary and complementary suppression to a breakdown shown with its total."""
    rows = list(groups)
    counts = [n for _key, _label, n in rows]
    if any(n < 0 for n in counts):
        raise ValueError("counts must not be negative")
    hidden = hidden_cells(counts, k)
    cells = tuple(
        Cell(key, label, None, Mark.HIDDEN) if i in hidden else Cell(key, label, n)
        for i, (key, label, n) in enumerate(rows)
    )
    # A population under k has only small cells, all hidden and unprotected: the total goes too.
    if hidden and not _protected(counts, hidden, k):
        total_cell = Cell("total", total_label, None, Mark.HIDDEN)
    else:
        total_cell = Cell("total", total_label, sum(counts))
    return Breakdown(cells, total_cell, k)


def suppress_series(points: Iterable[Group], k: int) -> Breakdown:
    """A series shown without a total (registrations per month): primary suppression only."""
    cells = tuple(suppress_count(key, label, n, k) for key, label, n in points)
    return Breakdown(cells, None, k)
