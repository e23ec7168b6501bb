"""The load generator: loopback only, and its sampled L against the exact time average."""

import math

import numpy as np
import pytest

from mmgp_lesson.loadtest import LoadResult, Submission, require_loopback
from mmgp_lesson.queueing import time_average_in_system


def test_only_loopback_targets_are_accepted():
    for url in ("http://127.0.0.1:8000", "http://127.3.4.5:1", "http://localhost:9", "http://[::1]:80"):
        require_loopback(url)
    for url in ("http://10.0.0.1:8000", "http://192.168.1.2", "http://example.org", "http://0.0.0.0:80"):
        with pytest.raises(ValueError, match="only targets loopback"):
            require_loopback(url)


def test_sampled_mean_in_system_is_within_two_gaps_per_job():
    rng = np.random.default_rng(0)
    arrivals = np.sort(rng.uniform(0, 10, 30))
    departures = arrivals + rng.exponential(1.0, 30)
    horizon = departures.max() + 0.3
    times = np.cumsum(rng.uniform(0.02, 0.08, 400))
    times = times[times <= horizon]
    times = np.concatenate([[0.0], times, [horizon]])
    samples = [(t, float(((arrivals <= t) & (departures > t)).sum()), 0.0, 0.001) for t in times]
    result = LoadResult(rate=3.0, submissions=[Submission(sent=0.0)], samples=samples)
    sampled, window, gap = result.mean_in_system()
    exact = time_average_in_system(arrivals, departures, times[0], times[-1])
    assert window == times[-1] - times[0] and gap <= 0.08 + 0.001 + 1e-12
    assert math.isclose(exact, (departures - arrivals).sum() / window)  # every job inside the window
    assert abs(sampled - exact) <= 2 * len(arrivals) * gap / window
    assert not math.isclose(sampled, exact, rel_tol=1e-9)  # it is an estimate, not the integral
