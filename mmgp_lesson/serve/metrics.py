"""The service's Prometheus metrics, on a registry of its own (one per app, so tests can run several).

Queue depth and jobs in flight are read from the job store when ``/metrics`` is scraped
(``Gauge.set_function``), so they are right whichever engine runs the jobs. ``mmgp_job_seconds`` is
a job's time from submission to done: the W of Little's law L = λW, with L the mean of
``mmgp_queue_depth + mmgp_jobs_in_flight`` and λ the rate of ``mmgp_jobs_total{state="done"}``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mmgp_lesson.serve.jobs import JobStore

SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
"""From a tiny model's step to a real LTX-Video clip on a CPU."""


class Metrics:
    """Every metric of the service, registered on :attr:`registry`; ``batch_size`` sets the batch buckets 1..B."""

    def __init__(self, store: JobStore, batch_size: int):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("mmgp_requests", "HTTP requests answered", ["route", "method", "status"], registry=registry)
        self.stage_seconds = Histogram(
            "mmgp_stage_seconds", "Seconds one stage call took (a batched image call counts once)", ["stage"],
            buckets=SECONDS_BUCKETS, registry=registry,
        )
        self.queue_depth = Gauge("mmgp_queue_depth", "Jobs queued, not yet claimed", registry=registry)
        self.queue_depth.set_function(store.queue_depth)
        self.in_flight = Gauge("mmgp_jobs_in_flight", "Jobs being run", registry=registry)
        self.in_flight.set_function(store.in_flight)
        self.batch_size = Histogram(
            "mmgp_batch_size", "Prompts per aMUSEd call", buckets=tuple(range(1, batch_size + 1)), registry=registry
        )
        self.jobs = Counter("mmgp_jobs", "Jobs that ended, by state and A/B variant", ["state", "variant"], registry=registry)
        self.job_seconds = Histogram(
            "mmgp_job_seconds", "Seconds from submission to done", ["variant"], buckets=SECONDS_BUCKETS, registry=registry
        )
        self.accepted = Counter("mmgp_jobs_accepted", "Jobs accepted (answered 202)", registry=registry)

    def exposition(self) -> bytes:
        """The text ``/metrics`` serves."""
        return generate_latest(self.registry)
