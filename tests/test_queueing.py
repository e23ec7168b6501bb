"""Queues against closed forms: Lindley's recursion, M/M/1, Pollaczek–Khinchine, Little's law, batch servers,
and histogram quantiles as PromQL computes them."""

import math

import numpy as np
import pytest

from mmgp_lesson.queueing import (batch_capacity, batch_means_error, batch_server, fifo_sojourn, histogram_from_metrics,
                                  histogram_quantile, metric_value, mg1_mean_sojourn, mm1_mean_sojourn,
                                  mm1_sojourn_quantile, percentiles, poisson_arrivals, time_average_in_system)


def _loop_sojourn(arrivals, service):
    free, out = 0.0, []
    for a, s in zip(arrivals, service):
        free = max(free, a) + s
        out.append(free - a)
    return np.array(out)


def test_vectorised_lindley_equals_the_event_loop():
    rng = np.random.default_rng(0)
    arrivals = poisson_arrivals(0.9, 2000, rng)
    service = rng.exponential(1.0, 2000)
    assert np.allclose(fifo_sojourn(arrivals, service), _loop_sojourn(arrivals, service), atol=1e-9)


def test_mm1_and_md1_means_and_the_mm1_tail():
    rng = np.random.default_rng(1)
    lam, mu, n = 0.6, 1.0, 200_000
    arrivals = poisson_arrivals(lam, n, rng)
    latency = fifo_sojourn(arrivals, rng.exponential(1 / mu, n))
    error = batch_means_error(latency)
    assert abs(latency.mean() - mm1_mean_sojourn(lam, mu)) < 4 * error  # 4 batch-means standard errors
    assert mg1_mean_sojourn(lam, 1 / mu, 2 / mu**2) == pytest.approx(mm1_mean_sojourn(lam, mu))  # P-K with E S^2 = 2/mu^2
    p90 = np.quantile(latency, 0.9)
    assert p90 == pytest.approx(mm1_sojourn_quantile(0.9, lam, mu), rel=0.05)  # 200k correlated samples: a few %
    deterministic = fifo_sojourn(arrivals, np.full(n, 1 / mu))
    assert abs(deterministic.mean() - mg1_mean_sojourn(lam, 1 / mu, 1 / mu**2)) < 4 * batch_means_error(deterministic)
    assert mm1_mean_sojourn(1.0, 1.0) == math.inf and mg1_mean_sojourn(2.0, 1.0, 1.0) == math.inf


def test_littles_law_is_exact_on_a_finished_trace_and_the_window_clips():
    rng = np.random.default_rng(2)
    arrivals = poisson_arrivals(0.5, 500, rng)
    departures = arrivals + fifo_sojourn(arrivals, rng.exponential(1.0, 500))
    horizon = departures.max()
    mean_l = time_average_in_system(arrivals, departures, 0.0, horizon)
    assert mean_l == pytest.approx(len(arrivals) / horizon * (departures - arrivals).mean(), rel=1e-12)
    # one job from 1 to 3, one from 2 to inf; window [2, 4]: 1 + 2 job-seconds over 2 s
    assert time_average_in_system([1.0, 2.0], [3.0, math.inf], 2.0, 4.0) == pytest.approx(1.5)


def test_batch_server_b1_is_a_fifo_queue_and_periodic_arrivals_fill_batches():
    rng = np.random.default_rng(3)
    arrivals = poisson_arrivals(0.7, 3000, rng)
    departures, sizes = batch_server(arrivals, 0.6, 0.4, max_batch=1)
    assert np.allclose(departures - arrivals, fifo_sojourn(arrivals, np.full(3000, 1.0))) and (sizes == 1).all()
    # periodic arrivals every tau, a window long enough to fill B: latency (B-1-k) tau + c0 + c1 B
    tau, b, c0, c1 = 0.5, 4, 0.8, 0.2
    periodic = tau * np.arange(40)
    departures, sizes = batch_server(periodic, c0, c1, max_batch=b, wait=10.0)
    assert (sizes == b).all()
    expected = np.tile((b - 1 - np.arange(b)) * tau, 10) + c0 + c1 * b
    assert np.allclose(departures - periodic, expected)
    # greedy (no wait): never more than max_batch, never a job served before it arrived, all served once
    departures, sizes = batch_server(arrivals * 0.3, 0.5, 0.1, max_batch=8)
    assert sizes.max() <= 8 and sizes.sum() == 3000 and (departures > arrivals * 0.3).all()
    assert batch_capacity(1.0, 0.25, [1, 4]) == pytest.approx([0.8, 2.0])


def test_histogram_quantile_interpolates_like_promql():
    bounds = [0.1, 0.5, 1.0, math.inf]
    counts = [10, 30, 40, 40]
    assert histogram_quantile(0.5, bounds, counts) == pytest.approx(0.1 + 0.4 * 10 / 20)  # rank 20 in (0.1, 0.5]
    assert histogram_quantile(0.25, bounds, counts) == pytest.approx(0.1)  # rank 10: the top of the first bucket
    assert histogram_quantile(0.05, bounds, counts) == pytest.approx(0.02)  # rank 2 of 10 in (0, 0.1]: it starts at 0
    assert histogram_quantile(0.99, [0.1, 1.0, math.inf], [5, 6, 10]) == pytest.approx(1.0)  # +Inf bucket: last bound
    assert math.isnan(histogram_quantile(0.5, bounds, [0, 0, 0, 0]))
    with pytest.raises(ValueError):
        histogram_quantile(0.5, [0.1, 1.0], [1, 2])
    rng = np.random.default_rng(4)
    sample = rng.uniform(0, 2, 100_000)  # uniform: linear interpolation is exact up to sampling error
    edges = np.array([0.25, 0.5, 1.0, 1.5, 2.0, math.inf])
    cumulative = [(sample <= e).sum() for e in edges]
    assert histogram_quantile(0.9, edges, cumulative) == pytest.approx(1.8, abs=0.01)


def test_metrics_text_is_parsed_with_prometheus_client():
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    histogram = prometheus_client.Histogram("mmgp_job_seconds", "latency", ["variant"], buckets=(0.5, 1.0, 2.0), registry=registry)
    counter = prometheus_client.Counter("mmgp_jobs_accepted", "accepted", registry=registry)
    for value in (0.2, 0.7, 0.8, 1.5, 3.0):
        histogram.labels(variant="A").observe(value)
    histogram.labels(variant="B").observe(0.1)
    counter.inc(6)
    text = prometheus_client.generate_latest(registry).decode()
    read = histogram_from_metrics(text, "mmgp_job_seconds", variant="A")
    assert read["bounds"].tolist() == [0.5, 1.0, 2.0, math.inf] and read["counts"].tolist() == [1, 3, 4, 5]
    assert read["count"] == 5 and read["sum"] == pytest.approx(6.2)
    assert histogram_from_metrics(text, "mmgp_job_seconds")["count"] == 6  # both variants added up
    assert metric_value(text, "mmgp_jobs_accepted_total") == 6


def test_percentiles_names_its_keys():
    assert percentiles(np.arange(101)) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
