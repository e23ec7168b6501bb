"""Grade a class: many hand-ins in parallel workers, into a gradebook (CSV and JSON) and a summary.

One row per student × exercise with the columns :data:`COLUMNS`. Every hand-in of a run draws its
check inputs from the same seed, which the gradebook records, so a run can be repeated exactly.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from mmgp_lesson.errors import CourseError
from mmgp_lesson.grading.client import Worker
from mmgp_lesson.grading.grader import HandIn, Limits, grade

COLUMNS = ("student", "lesson", "exercise", "passed", "points", "max_points", "seconds", "feedback", "file", "seed")


def collect(paths: list[str]) -> list[Path]:
    """The notebooks named: files as given, folders searched for ``*.ipynb`` (checkpoints skipped)."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def grade_all(files: list[Path], jobs: int = 1, seed: int = 0, limits: Limits | None = None,
              sandbox: bool = True) -> tuple[list[HandIn], list[tuple[Path, str]]]:
    """Grade ``files`` with ``jobs`` workers at once; the graded hand-ins and the unreadable files.

    Each thread keeps one worker (one sandbox, torch imported once) for all the hand-ins it grades.
    """
    local, workers, lock = threading.local(), [], threading.Lock()

    def one(path: Path):
        if not hasattr(local, "worker"):
            local.worker = Worker(sandbox=sandbox)
            with lock:
                workers.append(local.worker)
        try:
            return grade(path, local.worker, seed, limits)
        except CourseError as error:
            return path, str(error)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, files))
    finally:
        for worker in workers:
            worker.close()
    graded = [result for result in results if isinstance(result, HandIn)]
    return graded, [result for result in results if not isinstance(result, HandIn)]


def records(hand_ins: list[HandIn]) -> list[dict]:
    """One dict per student × exercise, with the keys :data:`COLUMNS`."""
    return [{"student": h.student, "lesson": h.lesson, "exercise": row.exercise, "passed": row.passed,
             "points": row.points, "max_points": row.max_points, "seconds": row.seconds, "feedback": row.feedback,
             "file": str(h.path), "seed": h.seed} for h in hand_ins for row in h.rows]


def summary(hand_ins: list[HandIn], most: int = 3) -> dict[str, dict]:
    """Per exercise: how many were graded and passed, the pass rate, the most frequent failure lines."""
    table: dict[str, dict] = {}
    for record in records(hand_ins):
        entry = table.setdefault(record["exercise"], {"graded": 0, "passed": 0, "feedback": Counter()})
        entry["graded"] += 1
        entry["passed"] += record["passed"]
        if not record["passed"]:
            entry["feedback"][record["feedback"]] += 1
    return {key: {"graded": e["graded"], "passed": e["passed"], "pass_rate": e["passed"] / e["graded"],
                  "most_frequent_feedback": e["feedback"].most_common(most)} for key, e in sorted(table.items())}


def format_summary(hand_ins: list[HandIn]) -> str:
    """The instructor's view: one line per student, then per exercise the pass rate and common mistakes."""
    lines = []
    for h in hand_ins:
        got, total = sum(r.points for r in h.rows), sum(r.max_points for r in h.rows)
        lines.append(f"{h.student}: lesson {h.lesson}, {sum(r.passed for r in h.rows)}/{len(h.rows)} passed, {got:g} of {total:g} points")
    lines.append("")
    for key, entry in summary(hand_ins).items():
        lines.append(f"{key}: {entry['passed']}/{entry['graded']} passed ({entry['pass_rate']:.0%})")
        lines += [f"    {count} x {line}" for line, count in entry["most_frequent_feedback"]]
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def write_gradebook(path: Path, hand_ins: list[HandIn], errors: list[tuple[Path, str]], limits: Limits,
                    sandbox: bool) -> list[Path]:
    """Write the CSV at ``path`` and the JSON beside it (same name, ``.json``); return both paths."""
    path = Path(path)
    if not path.parent.is_dir():
        raise CourseError(f"{path.parent}: no such folder for the gradebook; create it or give another --out")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(records(hand_ins))
    document = {
        "seed": hand_ins[0].seed if hand_ins else None,
        "sandbox": sandbox,
        "limits": asdict(limits),
        "rows": records(hand_ins),
        "warnings": [{"file": str(h.path), "warning": w} for h in hand_ins for w in h.warnings],
        "unreadable": [{"file": str(p), "error": e} for p, e in errors],
        "summary": summary(hand_ins),
    }
    json_path = path.with_suffix(".json")
    _write_atomically(path, buffer.getvalue())
    _write_atomically(json_path, json.dumps(document, indent=1) + "\n")
    return [path, json_path]
