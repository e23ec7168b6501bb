"""Checks for lesson 11: serving (histogram quantiles, Little's law on a trace, batch sizes)."""

from __future__ import annotations

import math

import numpy as np

from mmgp_lesson.checks import CheckFailed, answer_number, call_answer, exercise, passed, rng
from mmgp_lesson.queueing import histogram_quantile as _quantile
from mmgp_lesson.queueing import time_average_in_system as _in_system


def _histogram(r):
    """A latency histogram with the service's kind of buckets and a sample spread over several of them."""
    bounds = np.array([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf])
    sample = r.lognormal(math.log(0.4), 0.8, int(r.integers(200, 400)))
    counts = np.array([(sample <= b).sum() for b in bounds], dtype=float)
    return bounds, counts


@exercise("11-1", answer="histogram_quantile", references=("mmgp_lesson.queueing:histogram_quantile",))
def histogram_quantile(quantile) -> None:
    """Exercise 11.1: PromQL's histogram_quantile, compared to 1e-12 relative (a few float64 operations)."""
    r = rng(0)
    bounds, counts = _histogram(r)
    cases = [
        (float(r.uniform(0.55, 0.97)), bounds, counts),
        (0.99, bounds, counts),
        (float(r.uniform(0.002, 0.01)), bounds, counts),  # a rank in the first bucket: its lower end is 0
        (0.9, np.array([0.1, 0.2, math.inf]), np.array([3.0, 5.0, 10.0])),  # a rank in the +Inf bucket
    ]
    for q, b, c in cases:
        value = answer_number(quantile, q, b.tolist(), c.tolist())
        exact = _quantile(q, b, c)
        if abs(value - exact) <= 1e-12 * max(1.0, abs(exact)):
            continue
        rank = q * c[-1]
        k = int(np.searchsorted(c[:-1], rank))
        if k == len(b) - 1:
            raise CheckFailed(
                f"when the rank q·total = {rank:g} lies in the +Inf bucket, return the largest finite bound "
                f"({b[-2]:g}), as Prometheus does: that bucket has no upper end to interpolate to, and you returned {value:g}")
        lower, below = (0.0, 0.0) if k == 0 else (b[k - 1], c[k - 1])
        width, in_bucket = b[k] - lower, c[k] - below
        wrong = [
            (b[k], "you returned the bucket's upper bound instead of interpolating linearly inside the bucket"),
            (lower, "you returned the bucket's lower bound instead of interpolating linearly inside the bucket"),
            (lower + width * (rank - below) / c[k], "divide by the number of observations in the bucket, c[k] − c[k−1], not by its cumulative count c[k]"),
            (lower + width * rank / in_bucket, "subtract the count below the bucket, c[k−1], from the rank: the counts are cumulative"),
            (lower + width * (q * (c[-1] - 1) - below) / in_bucket, "the rank is q · total (Prometheus), not q · (total − 1) as numpy.percentile's sample positions"),
        ]
        for candidate, feedback in wrong:
            if abs(value - candidate) <= 1e-9 * max(1.0, abs(candidate)):
                raise CheckFailed(feedback)
        raise CheckFailed(
            f"for q = {q:.4f} your quantile is {value:.6g}, not {exact:.6g}: the rank q·total = {rank:.4g} lies in the "
            f"bucket ({lower:g}, {b[k]:g}]; interpolate between its bounds by (rank − count below) / count in the bucket")
    passed(f"p99 = {_quantile(0.99, bounds, counts):.3f} s read from {int(counts[-1])} observations in {len(bounds)} buckets")


def _trace(r):
    """An M/M/1 trace seen through a window: some jobs arrived before it, some are still inside after it."""
    count = 400
    arrivals = np.cumsum(r.exponential(1 / 0.8, count))
    service = r.exponential(1.0, count)
    start = np.concatenate([[0.0], np.cumsum(service)[:-1]]) - arrivals
    departures = arrivals + start - np.minimum.accumulate(start) + service
    end = float(arrivals[-1] - 5.0)
    window = (float(arrivals[20]) + 0.5, end)
    departures[departures > end + float(r.uniform(0, 3))] = math.inf  # not finished when the trace was read
    return arrivals, departures, window


@exercise("11-2", answer="mean_in_system", references=("mmgp_lesson.queueing:time_average_in_system",))
def mean_in_system(average) -> None:
    """Exercise 11.2: the time-average number in the system over a window, compared to 1e-9 relative."""
    arrivals, departures, (start, end) = _trace(rng(1))
    value = answer_number(average, arrivals, departures, start, end)
    exact = _in_system(arrivals, departures, start, end)
    if abs(value - exact) <= 1e-9 * exact:
        inside = (arrivals >= start) & (arrivals <= end)
        done = inside & np.isfinite(departures)
        rate = inside.sum() / (end - start)
        latency = (departures[done] - arrivals[done]).mean()
        passed(f"L = {value:.3f} over the window; λ·W from the same trace = {rate:.3f} × {latency:.3f} s = {rate * latency:.3f}")
        return
    if math.isinf(value) or math.isnan(value):
        raise CheckFailed("a job still in the system has departure inf: count only the part of [arrival, departure] inside the window")
    duration = end - start
    finite = np.where(np.isfinite(departures), departures, end)
    times = arrivals[(arrivals >= start) & (arrivals <= end)]
    at_arrivals = np.mean([((arrivals < t) & (departures > t)).sum() for t in times])
    wrong = {
        "unclipped": (np.clip(np.minimum(departures, end) - arrivals, 0, None).sum() / duration, "clip each job's time to the window on the left too: a job that arrived before the window starts counts only from the window's start"),
        "right": (np.clip(finite - np.maximum(arrivals, start), 0, None).sum() / duration, "clip each job's time at the window's end: a job that leaves after it counts only up to the end"),
        "snapshot": (float(((arrivals <= end) & (departures > end)).sum()), "that is the number in the system at the end of the window, one snapshot: L is the average of N(t) over the whole window"),
        "events": (at_arrivals, "that is the number in the system seen by arriving jobs (an average over events): L is an average over time, ∫ N(t) dt / (end − start)"),
        "per_job": (np.clip(np.minimum(departures, end) - np.maximum(arrivals, start), 0, None).sum() / max(1, ((arrivals <= end) & (departures >= start)).sum()), "divide the job-seconds by the window's length, not by the number of jobs: that would be a mean time, not a mean number"),
    }
    for candidate, feedback in wrong.values():
        if abs(value - candidate) <= 1e-9 * max(1.0, abs(candidate)):
            raise CheckFailed(feedback)
    inside = (arrivals >= start) & (arrivals <= end) & np.isfinite(departures)
    little = inside.sum() / duration * (departures[inside] - arrivals[inside]).mean()
    if abs(value - little) <= 1e-9 * little:
        raise CheckFailed("you computed λ·W from the arrivals and latencies; measure L itself, ∫ N(t) dt over the window / its length, so that Little's law can be checked against it")
    raise CheckFailed(f"your L is {value:.4f}, not {exact:.4f}: add up, for each job, the length of [arrival, departure] ∩ [start, end], then divide by end − start")


def _stable(c0: float, c1: float, rate: float) -> float:
    if rate * c1 >= 1:
        return math.inf
    return math.floor(rate * c0 / (1 - rate * c1)) + 1


@exercise("11-3", answer="smallest_stable_batch")
def smallest_stable_batch(smallest) -> None:
    """Exercise 11.3: the smallest b with λ (c0 + c1 b) < b; exact integers (dyadic inputs make the edge case exact)."""
    r = rng(2)
    cases = [(float(r.uniform(0.5, 2.0)), float(r.uniform(0.05, 0.3)), float(r.uniform(1.5, 3.0))) for _ in range(3)]
    cases += [(1.0, 0.25, 2.0), (0.25, 0.25, 1.0), (0.5, 0.5, 2.0), (0.5, 0.5, 2.5)]  # b = 4 exactly saturated; b = 1 enough; never
    for c0, c1, rate in cases:
        value = call_answer(smallest, c0, c1, rate, returns="an int, or math.inf")
        exact = _stable(c0, c1, rate)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckFailed("return the batch size as an int (or math.inf when no batch size keeps up)")
        if value == exact:
            continue
        x = rate * c0 / (1 - rate * c1) if rate * c1 < 1 else math.inf
        if math.isinf(exact):
            raise CheckFailed(f"with λ c1 = {rate * c1:g} ≥ 1 every batch size saturates the server (capacity b / (c0 + c1 b) < 1/c1 ≤ λ): return math.inf, not {value}")
        if value == math.ceil(x) and value != exact:
            raise CheckFailed(f"at b = {value} the utilisation λ (c0 + c1 b) / b is exactly 1: the queue is not stable there, it needs ρ < 1 strictly")
        if value == math.floor(rate * c0) + 1 or value == math.ceil(rate * c0):
            raise CheckFailed("include the per-job cost c1: a batch of b takes c0 + c1 b seconds, so the condition is λ (c0 + c1 b) < b")
        if isinstance(value, float) and not value.is_integer():
            raise CheckFailed(f"a batch holds a whole number of jobs: round {value:.3f} to the smallest integer b that makes ρ < 1")
        if value < exact:
            raise CheckFailed(f"with c0 = {c0:g}, c1 = {c1:g}, λ = {rate:g} your b = {value} gives ρ = {rate * (c0 + c1 * value) / value:.3f} ≥ 1: the queue grows without bound")
        raise CheckFailed(f"with c0 = {c0:g}, c1 = {c1:g}, λ = {rate:g} a batch of {exact} already gives ρ = {rate * (c0 + c1 * exact) / exact:.3f} < 1: yours, {value}, is not the smallest")
    passed("the smallest stable batch size is right in every case, the exactly saturated one and the hopeless one included")
