"""The one timer of the benchmarks: the best of `repeat` runs (the least disturbed by a shared machine)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds of the fastest of `repeat` calls of `fn`, and what the last call returned."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result
