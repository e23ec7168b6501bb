"""Load test of ``mmgp-lesson serve`` on loopback: open-loop Poisson arrivals at increasing rates, B = 1 and B > 1.

The service runs in tiny mode in this process (uvicorn in a thread on 127.0.0.1, a free port, a temporary
data folder). First a burst of ``--burst`` jobs submitted at once measures the service's capacity with
B = 1 (jobs per second of a queue that never empties); then, for each batch size, Poisson arrivals at
``--loads`` × that capacity, ``--jobs`` jobs per rate (fewer when the rate is low, so a run takes at most
about ``--seconds``). For each run: throughput (jobs done per second), p50/p95/p99 latency (submit → done,
from the job records), the 429 share (queue full; ``--queue-size`` is small so that overload shows), the
mean batch size, and Little's law checked on the metrics: L, the time average of the sampled
``mmgp_queue_depth + mmgp_jobs_in_flight``, against λW with λ = accepted / duration and W the mean of
``mmgp_job_seconds``. Each run starts and ends with an empty system, so L = λW holds exactly for the
continuous N(t); the sampled average may differ by at most 2 (gap + scrape time) per job over the duration.
The saturation point is the first rate whose throughput falls below 90 % of the offered rate or that
meets a 429. Every request goes to 127.0.0.1 and every loop is bounded in count and time.

Prints a table; writes ``benchmarks/results/serve.json`` and ``benchmarks/results/serve.png``.

    python benchmarks/bench_serve.py [--batch-sizes 1 4] [--loads 0.4 0.8 1.2 1.6] [--jobs 24] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import spread  # noqa: E402

from mmgp_lesson.loadtest import run_load, serve_in_thread  # noqa: E402
from mmgp_lesson.queueing import histogram_from_metrics, histogram_quantile, metric_value, percentiles  # noqa: E402


def _delta_histogram(before: str, after: str, name: str) -> dict:
    first, last = histogram_from_metrics(before, name), histogram_from_metrics(after, name)
    counts = last["counts"] - (first["counts"] if len(first["counts"]) == len(last["counts"]) else 0)
    return {"bounds": last["bounds"], "counts": counts, "sum": last["sum"] - first["sum"], "count": last["count"] - first["count"]}


def summarise(result, batch_size: int) -> dict:
    """One row of the table from one load run."""
    latencies = result.latencies()
    done = [s.job for s in result.accepted if s.job and s.job.get("state") == "done"]
    first = min(j["created"] for j in done)
    last = max(j["finished"] for j in done)
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
        "throughput_per_s": len(done) / (last - first),
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
    """The first offered rate whose throughput is under 90 % of it, or that met a 429; None if none did."""
    for row in rows:
        if row["refused_429_share"] > 0 or row["throughput_per_s"] < 0.9 * row["offered_per_s"]:
            return row["offered_per_s"]
    return None


def plot(rows: list[dict], path: Path) -> None:
    from mmgp_lesson.plots import small_figure

    fig, axes = small_figure(2, size=3.2)
    for batch in sorted({r["batch_size"] for r in rows}):
        mine = [r for r in rows if r["batch_size"] == batch]
        rates = [r["offered_per_s"] for r in mine]
        axes[0, 0].plot(rates, [r["throughput_per_s"] for r in mine], "o-", label=f"B = {batch}")
        axes[0, 1].semilogy(rates, [r["p50_s"] for r in mine], "o--", label=f"B = {batch} p50")
        axes[0, 1].semilogy(rates, [r["p99_s"] for r in mine], "o-", label=f"B = {batch} p99")
    top = max(r["offered_per_s"] for r in rows)
    axes[0, 0].plot([0, top], [0, top], ":", color="grey", label="offered")
    axes[0, 0].set(xlabel="offered rate (jobs/s)", ylabel="throughput (jobs/s)")
    axes[0, 1].set(xlabel="offered rate (jobs/s)", ylabel="latency (s)")
    axes[0, 0].legend()
    axes[0, 1].legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch-wait-ms", type=float, default=50.0)
    parser.add_argument("--loads", type=float, nargs="+", default=[0.4, 0.8, 1.2, 1.6], help="offered rates as multiples of the B = 1 capacity")
    parser.add_argument("--jobs", type=int, default=24, help="jobs per rate at most")
    parser.add_argument("--seconds", type=float, default=15.0, help="arrivals per rate span about this long at most")
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--queue-size", type=int, default=12)
    parser.add_argument("--image-steps", type=int, default=24, help="24: the batched stage is the larger part of a tiny job")
    parser.add_argument("--out", default="benchmarks/results/serve.json")
    args = parser.parse_args()
    import torch

    from mmgp_lesson.capstone.media import make_sample_video
    from mmgp_lesson.serve.config import ServeSettings

    torch.set_num_threads(1)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    form = {"frames": 9, "image_steps": args.image_steps}
    rows, capacity = [], None
    with tempfile.TemporaryDirectory() as folder:
        video = make_sample_video(Path(folder) / "clip.mp4").read_bytes()
        for batch in args.batch_sizes:
            settings = ServeSettings(port=0, data=Path(folder) / f"b{batch}", mode="tiny", batch_size=batch,
                                     batch_wait_ms=args.batch_wait_ms, queue_size=args.queue_size)
            with serve_in_thread(settings) as service:
                run_load(service.url, video, 100.0, 2, rng, form)  # warm-up: first calls build caches
                if capacity is None:  # a burst at once: the queue never empties, so done/second is the capacity
                    burst = run_load(service.url, video, 1000.0, args.burst, rng, form)
                    done = [s.job for s in burst.accepted if s.job and s.job.get("state") == "done"]
                    capacity = len(done) / (max(j["finished"] for j in done) - min(j["started"] for j in done))
                    print(f"B = {batch} capacity from a burst of {args.burst}: {capacity:.2f} jobs/s")
                for load in args.loads:
                    rate = load * capacity
                    count = int(min(args.jobs, max(8, rate * args.seconds)))
                    result = run_load(service.url, video, rate, count, rng, form, timeout=120.0)
                    row = summarise(result, batch)
                    rows.append(row)
                    print(f"  B = {batch} λ = {rate:.2f}/s: {row['done']}/{count} done, p99 {row['p99_s']:.2f} s", flush=True)
    header = f"{'B':>2s} {'offered/s':>9s} {'done/s':>7s} {'p50 s':>6s} {'p95 s':>6s} {'p99 s':>6s} {'p99 bkt':>7s} {'429 %':>6s} {'batch':>5s} {'L':>6s} {'λW':>6s} {'±':>5s} {'Little':>6s}"
    print(header)
    for r in rows:
        little = r["little"]
        print(f"{r['batch_size']:2d} {r['offered_per_s']:9.2f} {r['throughput_per_s']:7.2f} {r['p50_s']:6.2f} {r['p95_s']:6.2f} "
              f"{r['p99_s']:6.2f} {r['p99_from_buckets_s']:7.2f} {100 * r['refused_429_share']:6.1f} {r['mean_batch']:5.2f} "
              f"{little['L_sampled']:6.2f} {little['lambda_W']:6.2f} {little['tolerance']:5.2f} {'holds' if little['holds'] else 'FAILS':>6s}")
    points = {b: saturation([r for r in rows if r["batch_size"] == b]) for b in args.batch_sizes}
    for b, point in points.items():
        print(f"B = {b}: saturates at {point:.2f} jobs/s offered" if point else f"B = {b}: not saturated up to the highest rate")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, out.with_suffix(".png"))
    report = {"mode": "tiny", "threads": 1, "frames": 9, "image_steps": args.image_steps, "batch_wait_ms": args.batch_wait_ms,
              "queue_size": args.queue_size, "capacity_b1_per_s": capacity, "saturation_per_s": {str(b): p for b, p in points.items()},
              "rows": rows, "seconds": time.perf_counter() - started}
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out} and {out.with_suffix('.png')} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
