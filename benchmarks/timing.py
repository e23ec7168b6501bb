"""Honest timing for the benchmarks: repeated, interleaved runs after a warm-up, reported with their spread.

- :func:`interleaved` runs every variant once per round, ``repeats`` rounds, after ``warmup`` rounds
  that are not recorded, so a slow spell of a shared machine hits every variant alike.
- :func:`spread` is min / median / max of one variant's seconds.
- :func:`ratio` is the median ratio of two variants with its range ``min_a/max_b .. max_a/min_b``;
  ``within_noise`` is true when the two variants' [min, max] ranges overlap, so the table never
  calls a difference that the run-to-run noise could explain.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(variants: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each call of each variant: ``warmup`` unrecorded rounds, then ``repeats`` recorded ones."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(warmup + repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            if round_ >= warmup:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def spread(seconds: list[float]) -> dict[str, float]:
    """Min, median and max of a list of timings."""
    return {"min": min(seconds), "median": statistics.median(seconds), "max": max(seconds)}


def ratio(a: list[float], b: list[float]) -> dict[str, float | bool]:
    """Median of ``a`` over median of ``b``, its range, and whether the two ranges overlap."""
    return {
        "median": statistics.median(a) / statistics.median(b),
        "low": min(a) / max(b),
        "high": max(a) / min(b),
        "within_noise": min(a) <= max(b) and min(b) <= max(a),
    }
