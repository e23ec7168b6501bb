"""Lesson 11's checks: the right answers pass, and each common wrong answer gets the sentence that names it."""

import math

import numpy as np
import pytest

from mmgp_lesson.checks import CheckFailed, exercises_of, seeded
from mmgp_lesson.checks import lesson11 as check


def _interpolated(q, bounds, counts, fraction):
    rank = q * counts[-1]
    k = next(i for i, c in enumerate(counts) if c >= rank)
    if k == len(bounds) - 1:
        return bounds[-2]
    lower, below = (0.0, 0.0) if k == 0 else (bounds[k - 1], counts[k - 1])
    return lower + (bounds[k] - lower) * fraction(rank, below, counts[k])


def quantile_right(q, bounds, counts):
    return _interpolated(q, bounds, counts, lambda rank, below, at: (rank - below) / (at - below))


def quantile_upper(q, bounds, counts):
    rank = q * counts[-1]
    return bounds[next(i for i, c in enumerate(counts) if c >= rank)]


def quantile_cumulative_denominator(q, bounds, counts):
    return _interpolated(q, bounds, counts, lambda rank, below, at: (rank - below) / at)


def quantile_rank_not_shifted(q, bounds, counts):
    return _interpolated(q, bounds, counts, lambda rank, below, at: rank / (at - below))


def quantile_infinite(q, bounds, counts):
    rank = q * counts[-1]
    k = next(i for i, c in enumerate(counts) if c >= rank)
    return math.inf if k == len(bounds) - 1 else quantile_right(q, bounds, counts)


def test_histogram_quantile_feedback():
    check.histogram_quantile(quantile_right)
    for wrong, sentence in [
        (quantile_upper, "upper bound instead of interpolating"),
        (quantile_cumulative_denominator, "not by its cumulative count"),
        (quantile_infinite, "+Inf bucket, return the largest finite bound"),
        (lambda q, b, c: quantile_right(q, b, c) * 1.01, "interpolate between its bounds"),
    ]:
        with pytest.raises(CheckFailed, match=sentence.replace("+", r"\+")):
            check.histogram_quantile(wrong)
    with pytest.raises(CheckFailed, match="subtract the count below"):
        check.histogram_quantile(quantile_rank_not_shifted)


def in_system_right(arrivals, departures, start, end):
    return float(np.clip(np.minimum(departures, end) - np.maximum(arrivals, start), 0, None).sum() / (end - start))


def in_system_left_unclipped(arrivals, departures, start, end):
    return float(np.clip(np.minimum(departures, end) - arrivals, 0, None).sum() / (end - start))


def in_system_unclipped(arrivals, departures, start, end):
    return float((departures - arrivals).sum() / (end - start))


def in_system_snapshot(arrivals, departures, start, end):
    return int(((arrivals <= end) & (departures > end)).sum())


def in_system_little(arrivals, departures, start, end):
    inside = (arrivals >= start) & (arrivals <= end) & np.isfinite(departures)
    return inside.sum() / (end - start) * (departures[inside] - arrivals[inside]).mean()


def test_mean_in_system_feedback():
    check.mean_in_system(in_system_right)
    for wrong, sentence in [
        (in_system_unclipped, "departure inf"),
        (in_system_left_unclipped, "on the left too"),
        (in_system_snapshot, "one snapshot"),
        (in_system_little, "you computed λ·W"),
        (lambda a, d, s, e: 2 * in_system_right(a, d, s, e), "add up, for each job"),
    ]:
        with pytest.raises(CheckFailed, match=sentence):
            check.mean_in_system(wrong)


def batch_right(c0, c1, rate):
    return math.inf if rate * c1 >= 1 else math.floor(rate * c0 / (1 - rate * c1)) + 1


def test_smallest_stable_batch_feedback():
    check.smallest_stable_batch(batch_right)
    for wrong, sentence in [
        (lambda c0, c1, rate: 0 if rate * c1 >= 1 else batch_right(c0, c1, rate), "return math.inf"),
        (lambda c0, c1, rate: math.inf if rate * c1 >= 1 else math.ceil(rate * c0 / (1 - rate * c1)), "exactly 1"),
        (lambda c0, c1, rate: math.inf if rate * c1 >= 1 else math.floor(rate * c0) + 1, "include the per-job cost c1"),
        (lambda c0, c1, rate: math.inf if rate * c1 >= 1 else rate * c0 / (1 - rate * c1), "whole number"),
        (lambda c0, c1, rate: math.inf if rate * c1 >= 1 else batch_right(c0, c1, rate) + 1, "not the smallest"),
    ]:
        with pytest.raises(CheckFailed, match=sentence):
            check.smallest_stable_batch(wrong)


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_right_answers_pass_at_other_seeds(seed):
    with seeded(seed):
        check.histogram_quantile(quantile_right)
        check.mean_in_system(in_system_right)
        check.smallest_stable_batch(batch_right)


def test_lesson_11_registers_three_exercises():
    assert [e.key for e in exercises_of("11")] == ["11-1", "11-2", "11-3"]
