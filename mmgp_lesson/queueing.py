r"""Queueing for serving (lesson 11): single-server queues, batch servers, Little's law, histogram quantiles.

**A single FIFO server.** Jobs arrive at times :math:`a_1 \le a_2 \le \dots` and need service times
:math:`S_n`. Job :math:`n` starts at :math:`\max(a_n, d_{n-1})` and leaves at :math:`d_n`; its time in the
system (the *latency*) is :math:`T_n = d_n - a_n`. The waiting time obeys Lindley's recursion
:math:`w_{n+1} = \max(0, w_n + S_n - (a_{n+1} - a_n))`, whose solution is a running minimum of a cumulative
sum (:func:`fifo_sojourn`, no Python loop).

**Closed forms.** With Poisson arrivals at rate :math:`\lambda` and utilisation :math:`\rho = \lambda E S < 1`
the Pollaczek–Khinchine formula gives the mean latency :math:`E T = E S + \lambda E S^2 / (2 (1 - \rho))`
(:func:`mg1_mean_sojourn`); with exponential service of rate :math:`\mu` (M/M/1) the latency is exponential
with rate :math:`\mu - \lambda`: mean :math:`1/(\mu - \lambda)`, quantile :math:`-\ln(1 - q)/(\mu - \lambda)`.

**Little's law** (Little, 1961): the time-average number in the system :math:`L`, the arrival rate and the
mean latency satisfy :math:`L = \lambda W`. On a finite trace in which every job arrives and leaves inside
:math:`[0, H]`, :math:`\int_0^H N(t)\,dt = \sum_n T_n` exactly, so :math:`L = (n/H)\,\bar T`
(:func:`time_average_in_system`).

**A batch server.** A batch of :math:`b` jobs costs :math:`c_0 + c_1 b` seconds: its capacity
:math:`b / (c_0 + c_1 b)` jobs per second rises with :math:`b` towards :math:`1/c_1`. The server of
:func:`batch_server` takes the oldest waiting job when it is free, waits at most ``wait`` seconds for up to
``max_batch - 1`` more after that job's arrival, then serves them together (the rule of
``mmgp-lesson serve``'s worker).

**Histogram quantiles.** Prometheus keeps a histogram as cumulative counts of observations
:math:`\le` each bucket's upper bound; :func:`histogram_quantile` reads a quantile from them by linear
interpolation inside the bucket that holds the rank, as PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import math

import numpy as np


def poisson_arrivals(rate: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` arrival times of a Poisson process of ``rate`` per second, starting at 0."""
    return np.cumsum(rng.exponential(1.0 / rate, count))


def fifo_sojourn(arrivals, service) -> np.ndarray:
    """Time in system of each job of one first-come-first-served server (Lindley's recursion, vectorised).

    ``arrivals`` is sorted; ``service[n]`` is job n's service time. Returns ``departures - arrivals``.
    """
    arrivals, service = np.asarray(arrivals, dtype=float), np.asarray(service, dtype=float)
    # w_n = max_{k <= n} (sum_{k <= j < n} S_j - (a_n - a_k)) = C_n - min_{k <= n} C_k, C_n = sum_{j<n} S_j - a_n
    cumulative = np.concatenate([[0.0], np.cumsum(service)[:-1]]) - arrivals
    waiting = cumulative - np.minimum.accumulate(cumulative)
    return waiting + service


def mm1_mean_sojourn(rate: float, service_rate: float) -> float:
    """Mean time in an M/M/1 system, ``1 / (mu - lambda)``; infinite when ``lambda >= mu``."""
    return 1.0 / (service_rate - rate) if rate < service_rate else math.inf


def mm1_sojourn_quantile(q: float, rate: float, service_rate: float) -> float:
    """The ``q``-quantile of M/M/1 latency: it is exponential with rate ``mu - lambda``."""
    return -math.log1p(-q) / (service_rate - rate) if rate < service_rate else math.inf


def mg1_mean_sojourn(rate: float, mean_service: float, second_moment: float) -> float:
    """Pollaczek–Khinchine: mean latency ``E S + lambda E S^2 / (2 (1 - rho))`` of an M/G/1 queue."""
    rho = rate * mean_service
    return mean_service + rate * second_moment / (2 * (1 - rho)) if rho < 1 else math.inf


def time_average_in_system(arrivals, departures, start: float, end: float) -> float:
    """Time-average number of jobs in the system over ``[start, end]``: each job counts for the part of
    ``[arrival, departure]`` inside the window (a job not yet gone has departure ``inf``)."""
    arrivals, departures = np.asarray(arrivals, dtype=float), np.asarray(departures, dtype=float)
    overlap = np.clip(np.minimum(departures, end) - np.maximum(arrivals, start), 0.0, None)
    return float(overlap.sum() / (end - start))


def batch_capacity(c0: float, c1: float, batch) -> np.ndarray:
    """Jobs per second a server sustains when every batch holds ``batch`` jobs and costs ``c0 + c1 b``."""
    batch = np.asarray(batch, dtype=float)
    return batch / (c0 + c1 * batch)


def batch_server(arrivals, c0: float, c1: float, max_batch: int, wait: float = 0.0):
    """Simulate one batching server; returns ``(departures, batch_sizes)``.

    When the server is free and a job waits, it takes the oldest job at ``t = max(free, arrival)``, waits
    until ``wait`` seconds after that job's *arrival* (no wait if it already waited that long) or until
    ``max_batch`` jobs are there, whichever comes first, and serves every job that arrived by then (at most
    ``max_batch``) in one batch of cost ``c0 + c1 b``. This is the rule of ``mmgp-lesson serve``'s worker.
    """
    arrivals = np.asarray(arrivals, dtype=float)
    count = len(arrivals)
    departures = np.empty(count)
    sizes = []
    free, i = 0.0, 0
    while i < count:
        claim = max(free, arrivals[i])
        full = i + max_batch - 1  # the job that would fill the batch
        start = max(claim, arrivals[i] + wait)
        if full < count:
            start = min(start, max(claim, arrivals[full]))
        end = min(int(np.searchsorted(arrivals, start, side="right")), i + max_batch)
        size = end - i
        free = start + c0 + c1 * size
        departures[i:end] = free
        sizes.append(size)
        i = end
    return departures, np.array(sizes)


def percentiles(latencies, qs=(50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` of a sample (numpy's linear interpolation)."""
    values = np.percentile(np.asarray(latencies, dtype=float), qs)
    return {f"p{q:g}": float(v) for q, v in zip(qs, values)}


def batch_means_error(values, batches: int = 20) -> float:
    """Standard error of the mean of a correlated series (queue latencies are): the spread of the means of
    ``batches`` consecutive blocks, over ``sqrt(batches)``."""
    blocks = np.array_split(np.asarray(values, dtype=float), batches)
    return float(np.std([b.mean() for b in blocks], ddof=1) / math.sqrt(batches))


def histogram_quantile(q: float, bounds, counts) -> float:
    """The ``q``-quantile of a Prometheus histogram, as PromQL's ``histogram_quantile``.

    ``bounds`` are the buckets' upper bounds in increasing order, the last one ``inf``; ``counts`` are the
    cumulative counts (``_bucket{le=...}``). The rank ``q · total`` falls in the first bucket whose count
    reaches it; the value is interpolated linearly between that bucket's lower bound (the previous upper
    bound, or 0 for the first bucket) and its upper bound. A rank in the ``+Inf`` bucket returns the largest
    finite bound; an empty histogram gives ``nan``.
    """
    bounds, counts = np.asarray(bounds, dtype=float), np.asarray(counts, dtype=float)
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        raise ValueError("a histogram needs at least one finite bucket and the +Inf bucket")
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    finite = len(bounds) - 1
    b = int(np.searchsorted(counts[:finite], rank, side="left"))  # first bucket with count >= rank
    if b == finite:
        return float(bounds[-2])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    lower, below = (0.0, 0.0) if b == 0 else (bounds[b - 1], counts[b - 1])
    return float(lower + (bounds[b] - lower) * (rank - below) / (counts[b] - below))


def histogram_from_metrics(text: str, name: str, **labels) -> dict:
    """One histogram from a Prometheus text exposition: ``{"bounds", "counts", "sum", "count"}``.

    ``labels`` select the series (e.g. ``variant="A"``); series that differ in other labels are added up.
    """
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    total_sum = total_count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if any(sample.labels.get(k) != str(v) for k, v in labels.items()):
                continue
            if sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == f"{name}_sum":
                total_sum += sample.value
            elif sample.name == f"{name}_count":
                total_count += sample.value
    bounds = sorted(buckets)
    return {"bounds": np.array(bounds), "counts": np.array([buckets[b] for b in bounds]), "sum": total_sum, "count": total_count}


def metric_value(text: str, name: str, **labels) -> float:
    """The sum of the samples called ``name`` (a counter's ``_total`` or a gauge) whose labels match."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == str(v) for k, v in labels.items()):
                total += sample.value
    return total
