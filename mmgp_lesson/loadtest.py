"""An open-loop load generator for ``mmgp-lesson serve`` (lesson 11 and ``benchmarks/bench_serve.py``).

*Open loop*: jobs are submitted at Poisson arrival times fixed in advance, whatever the service is doing —
as real users arrive — so a slow service builds a queue instead of slowing the generator down (a
closed loop, one request after another, hides exactly the queueing it should measure). Each POST runs in
its own thread; a sampler thread reads ``/metrics`` every ``interval`` seconds for the queue depth and
the jobs in flight, the two gauges whose sum is the number of jobs in the system, :math:`N(t)`.

The service itself is started by :func:`mmgp_lesson.serve.server.in_thread` (or ``mmgp-lesson serve``);
:func:`wait_ready` waits for its models. Only loopback addresses are accepted: :func:`run_load` refuses
any other base URL. Every loop is bounded
in count and in time.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from mmgp_lesson.queueing import metric_value

FINAL_STATES = ("done", "failed", "cancelled")


def require_loopback(base_url: str) -> None:
    """Refuse a base URL whose host is not on this machine (127.0.0.0/8, ``::1``, ``localhost``)."""
    host = urlsplit(base_url).hostname or ""
    if host != "localhost":
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise ValueError(f"the load generator only targets loopback addresses, not {host!r}")


@dataclass
class Submission:
    """One POST: when it was sent (seconds after the run's start), its status, how long the reply took."""

    sent: float
    status: int = 0
    post_seconds: float = 0.0
    job_id: str | None = None
    job: dict | None = None


@dataclass
class LoadResult:
    """What one load run saw: the submissions, the sampled gauges and the duration."""

    rate: float
    submissions: list[Submission]
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t, queued, running, scrape s)
    started: float = 0.0  # time.time() at the run's start
    duration: float = 0.0
    metrics_before: str = ""
    metrics_after: str = ""

    @property
    def accepted(self) -> list[Submission]:
        return [s for s in self.submissions if s.status == 202]

    @property
    def refused(self) -> int:
        """Submissions refused with 429 (queue full)."""
        return sum(s.status == 429 for s in self.submissions)

    def latencies(self) -> np.ndarray:
        """Server-side latency (submit → done) of each accepted job that finished: ``finished - created``."""
        return np.array([s.job["finished"] - s.job["created"] for s in self.accepted if s.job and s.job.get("state") == "done"])

    def mean_in_system(self) -> tuple[float, float, float]:
        """``(L, H, g)``: the time average of the sampled queue depth + jobs in flight over the sampled
        window, the window's length ``H`` and the sampling resolution ``g`` (the largest gap between two
        samples plus the longest scrape, during which the gauges were read at an unknown moment).

        A job in the system for ``[a, d)`` inside the window is counted for whole gaps, off by at most
        ``g`` at each end, so ``|L - n W / H| <= 2 n g / H`` for ``n`` jobs of mean latency ``W``.
        """
        t = np.array([s[0] for s in self.samples])
        n = np.array([s[1] + s[2] for s in self.samples])
        scrape = max(s[3] for s in self.samples)
        gaps = np.diff(t)
        window = float(t[-1] - t[0])
        return float((n[:-1] * gaps).sum() / window), window, float(gaps.max() + scrape)


def _sample(client, stop: threading.Event, interval: float, samples: list, t0: float) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            text = client.get("/metrics").text
            ended = time.perf_counter()
            depth, running = metric_value(text, "mmgp_queue_depth"), metric_value(text, "mmgp_jobs_in_flight")
            samples.append(((started + ended) / 2 - t0, depth, running, ended - started))
        except Exception:  # a sample lost to a busy server is a gap, not a failure
            pass
        stop.wait(max(0.0, interval - (time.perf_counter() - started)))


def run_load(
    base_url: str,
    video: bytes,
    rate: float,
    count: int,
    rng: np.random.Generator,
    form: dict | None = None,
    interval: float = 0.05,
    timeout: float = 120.0,
    headers: dict | None = None,
) -> LoadResult:
    """Submit ``count`` jobs at Poisson times of ``rate`` per second; wait (at most ``timeout`` s) for them.

    ``form`` holds the job's options (``seed``, ``frames``, ...); each job gets seed = its index unless
    ``form`` sets one. The metrics are sampled from the first POST until the last accepted job has ended.
    """
    import httpx

    require_loopback(base_url)
    times = np.cumsum(rng.exponential(1.0 / rate, count))
    times -= times[0]
    submissions = [Submission(sent=float(t)) for t in times]
    result = LoadResult(rate=rate, submissions=submissions)
    with httpx.Client(base_url=base_url, timeout=30.0, headers=headers or {}) as client:
        result.metrics_before = client.get("/metrics").text
        stop = threading.Event()
        t0 = time.perf_counter()
        result.started = time.time()
        sampler = threading.Thread(target=_sample, args=(client, stop, interval, result.samples, t0), daemon=True)
        sampler.start()

        def post(index: int) -> None:
            submission = submissions[index]
            fields = {"seed": str(index), **{k: str(v) for k, v in (form or {}).items()}}
            start = time.perf_counter()
            reply = client.post("/v1/jobs", files={"video": ("clip.mp4", video, "video/mp4")}, data=fields)
            submission.post_seconds = time.perf_counter() - start
            submission.status = reply.status_code
            if reply.status_code == 202:
                submission.job_id = reply.json()["id"]

        with ThreadPoolExecutor(max_workers=min(32, count)) as pool:
            for index, t in enumerate(times):
                delay = t - (time.perf_counter() - t0)
                if delay > 0:
                    time.sleep(delay)
                pool.submit(post, index)
        deadline = time.perf_counter() + timeout
        pending = [s for s in submissions if s.job_id]
        while pending and time.perf_counter() < deadline:  # oldest first: jobs end roughly in order
            pending[0].job = client.get(f"/v1/jobs/{pending[0].job_id}").json()
            if pending[0].job.get("state") in FINAL_STATES:
                pending.pop(0)
            else:
                time.sleep(0.1)  # about ten light requests a second: the poll barely loads the service
        result.duration = time.perf_counter() - t0
        time.sleep(2 * interval)  # a last sample with the system empty
        stop.set()
        sampler.join()
        result.metrics_after = client.get("/metrics").text
    return result


def wait_ready(base_url: str, timeout: float = 120.0) -> None:
    """Wait until the service at ``base_url`` answers ``/readyz`` with 200 (its models are built)."""
    import httpx

    require_loopback(base_url)
    deadline = time.perf_counter() + timeout
    while httpx.get(f"{base_url}/readyz").status_code != 200:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the service at {base_url} did not become ready in {timeout:g} s")
        time.sleep(0.05)
