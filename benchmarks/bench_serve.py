"""Load test of ``mmgp-lesson serve`` on loopback: open-loop Poisson arrivals at increasing rates, B = 1 and B > 1.

The services run in tiny mode in this process (``mmgp_lesson.serve.server.in_thread``: uvicorn in threads
on 127.0.0.1, free ports, a temporary data folder), one per batch size, all up at once. A burst of ``--burst`` jobs submitted at once measures
each one's capacity (jobs per second of a queue that never empties); then Poisson arrivals at ``--loads``
× the capacity of the first batch size, each rate run on every service in turn with the same arrival times (so a slow spell of
the shared machine hits every B alike, and the B differ by their batching only), ``--jobs`` jobs per rate at most (fewer when the rate is low, so that
arrivals span about ``--seconds``). For each run: throughput (the departures' rate, (n − 1) / (last −
first finish)), p50/p95/p99 latency (submit → done, from the job records) and the p99 read from the
``mmgp_job_seconds`` buckets, the 429 share (``--queue-size`` is small so that overload shows), the mean
batch, and Little's law checked on the metrics: L, the time average of the sampled ``mmgp_queue_depth +
mmgp_jobs_in_flight`` over the sampled window H, against λW with λ = accepted / H and W the mean of
``mmgp_job_seconds``. The system is empty at both ends of the window, so L = λW holds exactly for the
continuous N(t); the sampled average may differ by at most 2 n g / H, g the largest gap between samples
plus the longest scrape. The saturation point is the first rate that meets a 429 or whose throughput falls
below 90 % of the arrival rate the run realised (the queue grew while it ran). Every request goes to
127.0.0.1 and every loop is bounded in count and time.

Prints a table; writes ``benchmarks/results/serve.json`` and ``benchmarks/results/serve.png``.

    python benchmarks/bench_serve.py [--batch-sizes 1 4] [--loads 0.4 0.8 1.2 2.0] [--jobs 24] [--seconds 15]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import spread  # noqa: E402

from mmgp_lesson.loadtest import run_load, wait_ready  # noqa: E402
from mmgp_lesson.queueing import histogram_from_metrics, histogram_quantile, metric_value, percentiles  # noqa: E402


def _delta_histogram(before: str, after: str, name: str) -> dict:
    first, last = histogram_from_metrics(before, name), histogram_from_metrics(after, name)
    counts = last["counts"] - (first["counts"] if len(first["counts"]) == len(last["counts"]) else 0)
    return {"bounds": last["bounds"], "counts": counts, "sum": last["sum"] - first["sum"], "count": last["count"] - first["count"]}


def summarise(result, batch_size: int) -> dict:
    """One row of the table from one load run."""
    latencies = result.latencies()
    done = [s.job for s in result.accepted if s.job and s.job.get("state") == "done"]
    created = sorted(j["created"] for j in done)
    finished = sorted(j["finished"] for j in done)
    jobs = _delta_histogram(result.metrics_before, result.metrics_after, "mmgp_job_seconds")
    batches = _delta_histogram(result.metrics_before, result.metrics_after, "mmgp_batch_size")
    accepted = metric_value(result.metrics_after, "mmgp_jobs_accepted_total") - metric_value(result.metrics_before, "mmgp_jobs_accepted_total")
    mean_l, window, resolution = result.mean_in_system()
    little = accepted / window * (jobs["sum"] / jobs["count"]) if jobs["count"] else math.nan
    tolerance = 2 * accepted * resolution / window
    p99_buckets = histogram_quantile(0.99, jobs["bounds"], jobs["counts"])
    row = {
        "batch_size": batch_size,
        "offered_per_s": result.rate,
        "submitted": len(result.submissions),
        "accepted": int(accepted),
        "done": len(done),
        "refused_429_share": result.refused / len(result.submissions),
        "arrival_per_s": (len(done) - 1) / (created[-1] - created[0]),  # the rate this run's draws realised
        "throughput_per_s": (len(done) - 1) / (finished[-1] - finished[0]),  # the departures' rate
        **{f"{k}_s": v for k, v in percentiles(latencies).items()},
        "p99_from_buckets_s": p99_buckets,
        "mean_latency_s": float(latencies.mean()),
        "post_reply_s": spread([s.post_seconds for s in result.accepted]),
        "mean_batch": batches["sum"] / batches["count"] if batches["count"] else math.nan,
        "little": {"L_sampled": mean_l, "lambda_W": little, "tolerance": tolerance, "resolution_s": resolution,
                   "holds": abs(mean_l - little) <= tolerance},
        "duration_s": result.duration,
    }
    return row


def saturation(rows: list[dict]) -> float | None:
    """The first offered rate that met a 429, or whose departures spread over more than 1/0.9 of the time
    its arrivals did (departure rate under 90 % of the realised arrival rate: the queue grew during the
    run); None if no rate did. The realised rate is used, not the offered one: with a few dozen Poisson
    arrivals the two differ by tens of percent."""
    for row in rows:
        if row["refused_429_share"] > 0 or row["throughput_per_s"] < 0.9 * row["arrival_per_s"]:
            return row["offered_per_s"]
    return None


def plot(rows: list[dict], path: Path) -> None:
    from mmgp_lesson.plots import small_figure

    fig, axes = small_figure(2, size=3.2)
    for index, batch in enumerate(sorted({r["batch_size"] for r in rows})):
        mine = [r for r in rows if r["batch_size"] == batch]
        rates, colour = [r["offered_per_s"] for r in mine], f"C{index}"
        axes[0, 0].plot(rates, [r["throughput_per_s"] for r in mine], "o-", color=colour, label=f"B = {batch}")
        axes[0, 1].plot(rates, [r["p50_s"] for r in mine], "o--", color=colour, label=f"B = {batch} p50")
        axes[0, 1].plot(rates, [r["p99_s"] for r in mine], "o-", color=colour, label=f"B = {batch} p99")
    top = max(r["offered_per_s"] for r in rows)
    axes[0, 0].plot([0, top], [0, top], ":", color="grey", label="throughput = offered")
    axes[0, 0].set(xlabel="offered rate (jobs/s)", ylabel="throughput (jobs/s)")
    axes[0, 1].set(xlabel="offered rate (jobs/s)", ylabel="latency (s)")
    axes[0, 0].legend()
    axes[0, 1].legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch-wait-ms", type=float, default=50.0)
    parser.add_argument("--loads", type=float, nargs="+", default=[0.4, 0.8, 1.2, 2.0], help="offered rates as multiples of the B = 1 capacity")
    parser.add_argument("--jobs", type=int, default=24, help="jobs per rate at most")
    parser.add_argument("--seconds", type=float, default=15.0, help="arrivals per rate span about this long at most")
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--queue-size", type=int, default=6, help="small, so that overload meets 429s")
    parser.add_argument("--image-steps", type=int, default=24, help="24: the batched stage is the larger part of a tiny job")
    parser.add_argument("--out", default="benchmarks/results/serve.json")
    args = parser.parse_args()
    import torch

    from mmgp_lesson.capstone.media import make_sample_video
    from mmgp_lesson.serve.config import ServeSettings
    from mmgp_lesson.serve.server import in_thread

    torch.set_num_threads(1)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    form = {"frames": 9, "image_steps": args.image_steps}
    rows, capacities = [], {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        video = make_sample_video(Path(folder) / "clip.mp4").read_bytes()
        services = {}
        for batch in args.batch_sizes:  # every service up at once, so that each rate runs on all of them in turn
            settings = ServeSettings(port=0, data=Path(folder) / f"b{batch}", mode="tiny", batch_size=batch,
                                     batch_wait_ms=args.batch_wait_ms, queue_size=args.queue_size)
            services[batch] = stack.enter_context(in_thread(settings))
            wait_ready(services[batch])
            run_load(services[batch], video, 100.0, 2, rng, form)  # warm-up: first calls build caches
        for batch, url in services.items():  # a burst at once: the queue never empties, done/second is the capacity
            burst = run_load(url, video, 1000.0, args.burst, rng, form)
            done = [s.job for s in burst.accepted if s.job and s.job.get("state") == "done"]
            capacities[batch] = len(done) / (max(j["finished"] for j in done) - min(j["started"] for j in done))
            print(f"B = {batch}: capacity from a burst of {args.burst}: {capacities[batch]:.2f} jobs/s", flush=True)
        capacity = capacities[args.batch_sizes[0]]
        for index, load in enumerate(args.loads):
            rate = load * capacity
            count = int(min(args.jobs, max(8, rate * args.seconds)))
            for batch, url in services.items():  # interleaved: a slow spell of the machine hits every B alike
                arrivals = np.random.default_rng(1000 + index)  # the same arrival times for every B
                result = run_load(url, video, rate, count, arrivals, form, timeout=120.0)
                row = summarise(result, batch)
                rows.append(row)
                print(f"  B = {batch} λ = {rate:.2f}/s: {row['done']}/{count} done, p99 {row['p99_s']:.2f} s", flush=True)
    rows.sort(key=lambda r: (r["batch_size"], r["offered_per_s"]))
    header = f"{'B':>2s} {'offered/s':>9s} {'arrived/s':>9s} {'done/s':>7s} {'p50 s':>6s} {'p95 s':>6s} {'p99 s':>6s} {'p99 bkt':>7s} {'429 %':>6s} {'batch':>5s} {'L':>6s} {'λW':>6s} {'±':>5s} {'Little':>6s}"
    print(header)
    for r in rows:
        little = r["little"]
        print(f"{r['batch_size']:2d} {r['offered_per_s']:9.2f} {r['arrival_per_s']:9.2f} {r['throughput_per_s']:7.2f} {r['p50_s']:6.2f} {r['p95_s']:6.2f} "
              f"{r['p99_s']:6.2f} {r['p99_from_buckets_s']:7.2f} {100 * r['refused_429_share']:6.1f} {r['mean_batch']:5.2f} "
              f"{little['L_sampled']:6.2f} {little['lambda_W']:6.2f} {little['tolerance']:5.2f} {'holds' if little['holds'] else 'FAILS':>6s}")
    points = {b: saturation([r for r in rows if r["batch_size"] == b]) for b in args.batch_sizes}
    for b, point in points.items():
        print(f"B = {b}: saturates at {point:.2f} jobs/s offered" if point else f"B = {b}: not saturated up to the highest rate")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, out.with_suffix(".png"))
    report = {"mode": "tiny", "threads": 1, "frames": 9, "image_steps": args.image_steps, "batch_wait_ms": args.batch_wait_ms,
              "queue_size": args.queue_size, "burst_capacity_per_s": {str(b): c for b, c in capacities.items()}, "saturation_per_s": {str(b): p for b, p in points.items()},
              "rows": rows, "seconds": time.perf_counter() - started}
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out} and {out.with_suffix('.png')} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
