"""Complexity checks without wall-clock limits: how much slower a call gets when its input grows."""

from __future__ import annotations

import time
from collections.abc import Callable


def _best_of(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)


def growth(make_call: Callable[[int], Callable[[], object]], n: int, factor: int = 4) -> float:
    """Time(factor * n) / time(n), best of three each: about `factor` for linear work, factor**2 for quadratic."""
    return _best_of(make_call(n * factor)) / _best_of(make_call(n))
