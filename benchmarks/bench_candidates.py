"""Benchmark best-of-N image candidates: N candidates in one batched call against N single calls.

For N = 1, 2, 4, 8 the script times (median of ``--repeats`` after one warm-up) the batched path of
:func:`mmgp_lesson.capstone.candidates.best_of_n` — one ``AmusedPipeline`` call for N prompts and one
SmolVLM forward pass for N images — and the same work as N single calls (one image, one score each).
Tiny stages on one CPU thread, as the CLI runs them. Prints a table; writes
``benchmarks/results/candidates.json``.

    python benchmarks/bench_candidates.py [--repeats 3] [--out benchmarks/results/candidates.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from mmgp_lesson.capstone.candidates import best_of_n, caption_scores
from mmgp_lesson.capstone.image import ImageStage
from mmgp_lesson.capstone.understand import UnderstandStage

CAPTION = "a red car on the road"


def _median_seconds(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _single_calls(image_stage, verifier, count: int) -> None:
    for j in range(count):
        caption_scores(verifier, image_stage(CAPTION, seed=j), CAPTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/candidates.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    image_stage, verifier = ImageStage.tiny(), UnderstandStage.tiny()
    rows = []
    for count in (1, 2, 4, 8):
        batched = _median_seconds(lambda: best_of_n(image_stage, verifier, CAPTION, count), args.repeats)
        single = _median_seconds(lambda: _single_calls(image_stage, verifier, count), args.repeats)
        rows.append({"candidates": count, "batched_s": batched, "single_calls_s": single, "speedup": single / batched})
    print(f"{'N':>3s} {'batched s':>10s} {'N single s':>11s} {'speed-up':>9s}")
    for row in rows:
        print(f"{row['candidates']:3d} {row['batched_s']:10.3f} {row['single_calls_s']:11.3f} {row['speedup']:9.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"mode": "tiny", "threads": 1, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
