"""Complexity checks without wall-clock limits: how much slower a call gets when its input grows."""

from __future__ import annotations

import time
from collections.abc import Callable


def _best_of(fn: Callable[[], object], runs: int = 5) -> float:
    """The least CPU time of this thread over `runs` calls: time spent waiting for a core shared with other
    work does not count, so a loaded machine does not make linear work look quadratic."""
    best = float("inf")
    for _ in range(runs):
        start = time.thread_time()
        fn()
        best = min(best, time.thread_time() - start)
    return max(best, 1e-6)


def growth(make_call: Callable[[int], Callable[[], object]], n: int, factor: int = 4) -> float:
    """Time(factor * n) / time(n), best of five each, in CPU time: about `factor` for linear work, factor**2 for quadratic."""
    return _best_of(make_call(n * factor)) / _best_of(make_call(n))
