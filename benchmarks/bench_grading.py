"""How fast a class is graded: seconds per hand-in and hand-ins per minute, sandbox included.

Twenty hand-ins of one lesson (a mix of solutions, wrong answers and untouched stubs) are graded with
``--jobs 1`` and ``--jobs 2`` (one sandboxed fork-server worker per job, torch imported once per
worker), against the plain baseline of a fresh worker started for every hand-in. Prints a table,
writes ``benchmarks/results/grading.json``, and extrapolates a class of 200.

    .venv/bin/python benchmarks/bench_grading.py [--lesson 00] [--count 20] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nbformat

from mmgp_lesson.grading import grade
from mmgp_lesson.grading.gradebook import grade_all
from mmgp_lesson.grading.client import Worker
from mmgp_lesson.grading.grader import ANSWER_TAG

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "grading.json"
CLASS = 200


def make_class(folder: Path, lesson: str, count: int) -> list[Path]:
    """``count`` hand-ins: solutions, solutions with the first answer broken, and untouched exercises."""
    name = next((ROOT / "solutions").glob(f"{lesson}_*.ipynb")).name
    paths = []
    for number in range(count):
        source = "exercises" if number % 4 == 0 else "solutions"
        notebook = nbformat.read(ROOT / source / name, as_version=4)
        if number % 4 == 1:
            answer = next(c for c in notebook.cells if any(ANSWER_TAG.match(t) for t in c.metadata.get("tags", [])))
            answer.source += "\nraise ValueError('a broken answer')"
        paths.append(folder / f"student{number:03d}.ipynb")
        nbformat.write(notebook, paths[-1])
    return paths


def fresh_worker_grade(path: Path, sandbox: bool) -> None:
    """The baseline: start a worker (interpreter, torch, sandbox) for this one hand-in, then close it."""
    with Worker(sandbox=sandbox) as worker:
        grade(path, worker)


def worker_start_seconds(lesson: str, sandbox: bool) -> float:
    """Seconds from nothing to a worker ready to grade this lesson (interpreter, imports, sandbox)."""
    with Worker(sandbox=sandbox) as worker:
        started = time.perf_counter()
        worker.start()
        worker.request({"op": "spawn", "lesson": lesson, "timeout": 300,
                        "limits": {"cpu_seconds": 60, "memory_mb": 2048, "output_mb": 10}}, 300)
        return time.perf_counter() - started


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="00")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--baseline-count", type=int, default=3, help="hand-ins for the fresh-worker baseline")
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    sandbox = not args.no_sandbox
    with tempfile.TemporaryDirectory() as folder:
        paths = make_class(Path(folder), args.lesson, args.count)
        rows = []
        startup = worker_start_seconds(args.lesson, sandbox)
        baseline = timed(lambda: [fresh_worker_grade(path, sandbox) for path in paths[: args.baseline_count]])
        rows.append(("fresh worker per hand-in (baseline)", args.baseline_count, baseline))
        for jobs in (1, 2):
            seconds = timed(lambda: grade_all(paths, jobs=jobs, seed=1, sandbox=sandbox))
            rows.append((f"--jobs {jobs}, one worker per job", len(paths), seconds))
    table = []
    for variant, count, seconds in rows:
        fresh = variant.startswith("fresh")
        steady = seconds if fresh else max(seconds - startup, 1e-9)  # the --jobs rows start their workers once
        per = steady / count
        class_seconds = CLASS * per + (0 if fresh else startup)
        table.append({"variant": variant, "hand_ins": count, "seconds": round(seconds, 2), "seconds_per_hand_in": round(per, 3),
                      "hand_ins_per_minute": round(60 / per, 1), "class_of_200_minutes": round(class_seconds / 60, 1)})
    print(f"lesson {args.lesson}, sandbox {'on' if sandbox else 'off'}, worker start {startup:.1f} s")
    print(f"{'variant':38} {'hand-ins':>8} {'seconds':>8} {'s/hand-in':>10} {'per min':>8} {'200 (min)':>10}")
    for row in table:
        print(f"{row['variant']:38} {row['hand_ins']:>8} {row['seconds']:>8.1f} {row['seconds_per_hand_in']:>10.2f} "
              f"{row['hand_ins_per_minute']:>8.1f} {row['class_of_200_minutes']:>10.1f}")
    print("(--jobs rows: seconds include starting the workers once; the rate excludes it; 200 = start + 200 x rate)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"lesson": args.lesson, "sandbox": sandbox, "worker_start_seconds": round(startup, 2),
                                   "rows": table}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
