"""The one clock. Everything that reads the time reads it through a Clock, so tests can move time."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime


class Clock:
    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


class FakeClock(Clock):
    def __init__(self, start: float | None = None):
        self._t = time.time() if start is None else start

    def time(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def set(self, t: float) -> None:
        self._t = t


@functools.lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(t: float) -> str:
    """ISO 8601 in whole seconds; formatted once per second, since every request asks."""
    return _iso_second(int(t))
