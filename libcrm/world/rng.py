"""Seeded random draws for the synthetic world, a whole column at a time.

The world's volume (about a million events a year for 5,000 patrons) is drawn with Arrow
compute kernels, never with a Python loop per event. Each :class:`Draws` is one named stream:
the same seed and name give the same numbers in the same order, and two names give independent
streams, so adding draws to one part of the world leaves every other part unchanged. Pure: no
Django.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: A Poisson draw stops counting here; the world's rates never come near it.
POISSON_CAP = 12


def whole(values: pa.Array) -> pa.Int64Array:
    """Floats rounded down to whole numbers (an explicit floor: Arrow refuses lossy casts)."""
    return pc.cast(pc.floor(values), pa.int64())


def stream_seed(seed: int, name: str, index: int = 0) -> int:
    """A 63-bit seed for the ``index``-th draw of stream ``name``: stable across runs and
    platforms (SHA-256, not ``hash()``)."""
    digest = hashlib.sha256(f"{seed}\x1f{name}\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def python_random(seed: int, name: str) -> random.Random:
    """A ``random.Random`` for the small per-person and per-item loops of stream ``name``."""
    return random.Random(stream_seed(seed, name))


def arange(n: int, start: int = 0) -> pa.Int64Array:
    """0, 1, … n-1 (plus ``start``) as an Arrow array."""
    return pa.array(range(start, start + n), pa.int64())


def repeat_indices(counts: pa.Array) -> pa.Int64Array:
    """Each position i repeated counts[i] times: [0, 2, 1] → [1, 1, 2] (numpy's ``repeat`` of
    an ``arange``), through a list array's parent indices."""
    counts = pc.cast(counts, pa.int64())
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(counts)])
    total = offsets[-1].as_py() if len(offsets) > 1 else 0
    lists = pa.LargeListArray.from_arrays(offsets, pa.nulls(total, pa.int8()))
    return pc.cast(pc.list_parent_indices(lists), pa.int64())


def cumulative(weights: Sequence[float]) -> list[float]:
    """Normalised cumulative sums of ``weights``, for :meth:`Draws.categorical`."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    running, out = 0.0, []
    for weight in weights:
        running += weight
        out.append(running / total)
    return out


class Draws:
    """One named stream of vectorised draws (see the module docstring)."""

    def __init__(self, seed: int, name: str) -> None:
        self.seed = seed
        self.name = name
        self._count = 0

    def uniform(self, n: int) -> pa.DoubleArray:
        """``n`` numbers in [0, 1)."""
        self._count += 1
        return pc.random(n, initializer=stream_seed(self.seed, self.name, self._count))

    def integers(self, n: int, high: int | pa.Array, low: int | pa.Array = 0) -> pa.Int64Array:
        """Whole numbers in [low, high) (``high`` and ``low`` may be per-row arrays)."""
        span = pc.subtract(high, low)
        drawn = pc.floor(pc.multiply(self.uniform(n), pc.cast(span, pa.float64())))
        return pc.add(whole(drawn), pc.cast(low, pa.int64()))

    def bernoulli(self, p: float | pa.Array, n: int | None = None) -> pa.BooleanArray:
        """True with probability ``p`` (a number, or one per row)."""
        size = n if n is not None else len(p)  # type: ignore[arg-type]
        return pc.less(self.uniform(size), p)

    def categorical(self, n: int, weights: Sequence[float]) -> pa.Int64Array:
        """Indexes into ``weights``, drawn in proportion to them."""
        u = self.uniform(n)
        out = pa.array([0] * n, pa.int64()) if n else pa.array([], pa.int64())
        for edge in cumulative(weights)[:-1]:
            out = pc.add(out, pc.cast(pc.greater_equal(u, edge), pa.int64()))
        return out

    def categorical_rows(self, rows: pa.Array, table: Sequence[Sequence[float]]) -> pa.Int64Array:
        """One draw per entry of ``rows``, from the distribution ``table[row]`` (a table of
        weights, one distribution per row, all of the same length)."""
        n = len(rows)
        width = len(table[0]) if table else 0
        cdfs = [cumulative(weights) for weights in table]
        u = self.uniform(n)
        out = pa.array([0] * n, pa.int64()) if n else pa.array([], pa.int64())
        for k in range(width - 1):
            edge = pc.take(pa.array([cdf[k] for cdf in cdfs], pa.float64()), rows)
            out = pc.add(out, pc.cast(pc.greater_equal(u, edge), pa.int64()))
        return out

    def poisson(self, lam: pa.Array) -> pa.Int64Array:
        """One Poisson count per rate in ``lam`` (inverse CDF, at most :data:`POISSON_CAP`)."""
        lam = pc.cast(lam, pa.float64())
        u = self.uniform(len(lam))
        term = pc.exp(pc.negate(lam))
        cdf = term
        count = pc.cast(pc.greater_equal(u, cdf), pa.int64())
        for k in range(1, POISSON_CAP):
            term = pc.divide(pc.multiply(term, lam), float(k))
            cdf = pc.add(cdf, term)
            count = pc.add(count, pc.cast(pc.greater_equal(u, cdf), pa.int64()))
        return count

    def normal(self, n: int) -> pa.DoubleArray:
        """Standard normal numbers (Box–Muller)."""
        u1 = pc.subtract(1.0, self.uniform(n))  # (0, 1]: the logarithm stays finite
        u2 = self.uniform(n)
        radius = pc.sqrt(pc.multiply(pc.ln(u1), -2.0))
        return pc.multiply(radius, pc.cos(pc.multiply(u2, 2 * math.pi)))

    def lognormal(self, n: int, median: float | pa.Array, sigma: float | pa.Array) -> pa.Array:
        """Positive numbers around ``median`` with log-spread ``sigma``."""
        return pc.multiply(median, pc.exp(pc.multiply(self.normal(n), sigma)))

    def exponential(self, n: int, mean: float | pa.Array) -> pa.DoubleArray:
        """Waiting times with the given mean."""
        return pc.multiply(pc.negate(pc.ln(pc.subtract(1.0, self.uniform(n)))), mean)
