"""Run the planted-bug suite: every bug of :mod:`mutants.catalogue` against its unit tests and its lesson.

For each bug a fresh copy of ``mmgp_lesson/`` is made in a temporary folder (the working tree is never
touched), the bug is applied there, and two commands run with that copy first on ``PYTHONPATH``:

1. ``pytest -x`` on the bug's unit-test files;
2. ``pytest -x --nbval-lax`` on the lesson that teaches the code (``notebooks/<lesson>.ipynb``).

A bug is *caught* by a command when the command fails. First, the same commands run once on the
unmodified copy (the baseline): each must pass, or a "caught" would mean nothing; the baseline also
gives each lesson's execution time. The result is a Markdown table on stdout (bug, the first failing
unit test, the first failing lesson cell and the section it belongs to) and a JSON file.

Usage: ``python -m mutants.run [--only NAME ...] [--json PATH]``; ``make mutants`` runs all of them. With
``--only`` the named bugs are rerun and their rows replaced in an existing JSON report (the others are kept).
Exit status 0 only when every bug run is caught by both its tests and its lesson.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mutants.catalogue import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mmgp_lesson"
LESSON_OPTIONS = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300"]
TIMEOUT_S = 900


def apply(mutant: Mutant, package: Path) -> None:
    """Apply ``mutant`` to the package copy at ``package``; raises ValueError unless its text occurs once."""
    path = package / mutant.file
    text = path.read_text() if path.is_file() else ""
    found = text.count(mutant.search)
    if found != 1:
        where = "is missing" if not path.is_file() else f"occurs {found} times (needs exactly 1)"
        raise ValueError(f"mutant {mutant.name!r}: the text {mutant.search!r} of {PACKAGE}/{mutant.file} {where}; "
                         "retarget its search/replace in mutants/catalogue.py")
    path.write_text(text.replace(mutant.search, mutant.replace))


def unapplicable(mutants: list[Mutant], package: Path) -> list[str]:
    """One line per mutant whose search text does not occur exactly once in the package at ``package``."""
    problems = []
    for mutant in mutants:
        path = package / mutant.file
        count = path.read_text().count(mutant.search) if path.is_file() else 0
        if count != 1:
            problems.append(f"mutant {mutant.name!r}: {mutant.search!r} occurs {count} times in {PACKAGE}/{mutant.file} "
                            "(needs exactly 1); retarget it in mutants/catalogue.py")
    return problems


def run_pytest(arguments: list[str], workdir: Path) -> dict:
    """``pytest -x`` in ``workdir`` with its package copy first on the path; returns status, first failure, seconds."""
    environment = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *arguments]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=TIMEOUT_S)
        output, status = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired:
        output, status = f"timed out after {TIMEOUT_S} s", -1
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+(?: \d+)?)", output, flags=re.MULTILINE)  # nbval ids end "::Cell N"
    return {"status": status, "failed": failed[0] if failed else None, "seconds": round(time.perf_counter() - start, 1),
            "tail": output.strip().splitlines()[-1] if output.strip() else ""}


def cell_section(notebook: Path, cell: int) -> str:
    """The heading of the section that holds code cell number ``cell`` (0-based, as nbval counts)."""
    heading, seen = "", -1
    for entry in nbformat.read(notebook, as_version=4).cells:
        if entry.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in entry.source.splitlines() if line.startswith("#")]
            heading = headings[-1] if headings else heading
        elif entry.cell_type == "code":
            seen += 1
            if seen == cell:
                return heading
    return heading


def lesson_cell(result: dict, workdir: Path) -> str | None:
    """``Cell N (section)`` for a failed lesson run, from nbval's test id ``notebooks/X.ipynb::Cell N``."""
    match = re.search(r"(notebooks/\S+\.ipynb)::Cell (\d+)", result["failed"] or "")
    if not match:
        return result["failed"] or (result["tail"] if result["status"] else None)
    return f"Cell {match[2]} ({cell_section(workdir / match[1], int(match[2]))})"


def fresh_package(workdir: Path) -> Path:
    """Replace the package copy in ``workdir`` by the pristine snapshot taken at the start of the run."""
    package = workdir / PACKAGE
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(workdir / "pristine", package)
    return package


def prepare(workdir: Path) -> None:
    """Copy what the commands need next to the package copy: tests, lesson notebooks, pytest configuration."""
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "notebooks").mkdir()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(notebook, workdir / "notebooks" / notebook.name)
    shutil.copy2(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    shutil.copytree(ROOT / PACKAGE, workdir / "pristine", ignore=shutil.ignore_patterns("__pycache__"))  # edits made during the run do not leak in
    fresh_package(workdir)
    environment = {**os.environ, "PYTHONPATH": str(workdir)}
    origin = subprocess.run([sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=workdir,
                            env=environment, capture_output=True, text=True, check=True).stdout.strip()
    if not origin.startswith(str(workdir)):
        raise RuntimeError(f"the copy is not the package that imports ({origin}); the suite would test the working tree")


def markdown_table(rows: list[dict], seconds: float) -> str:
    lines = ["| # | planted bug | module | caught by unit test | caught by lesson cell |", "|---|---|---|---|---|"]
    for index, row in enumerate(rows, 1):
        test = row["tests"]["failed"] or ("**not caught**" if row["tests"]["status"] == 0 else row["tests"]["tail"])
        cell = row["lesson_cell"] or "**not caught**"
        lines.append(f"| {index} | {row['name']} | `{row['module']}` | `{test}` | `{row['lesson']}` {cell} |")
    caught = sum(row["caught_by_tests"] and row["caught_by_lesson"] for row in rows)
    lines.append(f"\n{caught} of {len(rows)} planted bugs caught by both their unit tests and their lesson; "
                 f"the suite ran in {seconds:.0f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plant each catalogued bug in a copy of the package and run its tests and lesson.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these bugs (names as in the table)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "mutants.json")
    args = parser.parse_args(argv)
    names = {mutant.name for mutant in MUTANTS}
    unknown = sorted(set(args.only or []) - names)
    if unknown:
        print(f"error: unknown bug {unknown[0]!r}; run without --only to see every name in the table", file=sys.stderr)
        return 2
    chosen = [mutant for mutant in MUTANTS if not args.only or mutant.name in args.only]
    problems = unapplicable(chosen, ROOT / PACKAGE)
    if problems:
        print("\n".join(f"error: {problem}" for problem in problems), file=sys.stderr)
        return 1
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mmgp-mutants-") as folder:
        workdir = Path(folder)
        prepare(workdir)
        baseline = {}
        for lesson in sorted({mutant.lesson for mutant in chosen}):
            baseline[lesson] = run_pytest([*LESSON_OPTIONS, f"notebooks/{lesson}.ipynb"], workdir)
            print(f"baseline {lesson}: {'passed' if baseline[lesson]['status'] == 0 else 'FAILED'} in {baseline[lesson]['seconds']} s", flush=True)
        test_files = sorted({test for mutant in chosen for test in mutant.tests})
        baseline["unit tests"] = run_pytest(test_files, workdir)
        print(f"baseline unit tests: {'passed' if baseline['unit tests']['status'] == 0 else 'FAILED'} in {baseline['unit tests']['seconds']} s", flush=True)
        broken = [name for name, result in baseline.items() if result["status"] != 0]
        if broken:
            print(f"error: the unmodified package already fails {broken[0]} ({baseline[broken[0]]['failed'] or baseline[broken[0]]['tail']}); "
                  "fix that first, or no planted bug can be judged", file=sys.stderr)
            return 1
        rows = []
        for mutant in chosen:
            apply(mutant, fresh_package(workdir))
            tests = run_pytest(list(mutant.tests), workdir)
            lesson = run_pytest([*LESSON_OPTIONS, f"notebooks/{mutant.lesson}.ipynb"], workdir)
            row = {"name": mutant.name, "module": mutant.module, "description": mutant.description, "file": f"{PACKAGE}/{mutant.file}",
                   "lesson": mutant.lesson, "tests": tests, "lesson_run": lesson, "lesson_cell": lesson_cell(lesson, workdir),
                   "caught_by_tests": tests["status"] != 0, "caught_by_lesson": lesson["status"] != 0}
            rows.append(row)
            print(f"{mutant.name}: tests {'caught' if row['caught_by_tests'] else 'MISSED'} ({tests['failed']}), "
                  f"lesson {'caught' if row['caught_by_lesson'] else 'MISSED'} ({row['lesson_cell']})", flush=True)
        fresh_package(workdir)
    seconds = time.perf_counter() - start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {"seconds": round(seconds, 1), "python": sys.version.split()[0],
              "lesson_seconds": {name: result["seconds"] for name, result in baseline.items() if name != "unit tests"},
              "unit_test_seconds": baseline["unit tests"]["seconds"], "mutants": rows}
    if args.only and args.json.is_file():  # a partial run updates its rows of the last full report
        previous = json.loads(args.json.read_text())
        rerun = {row["name"] for row in rows}
        kept = [row for row in previous["mutants"] if row["name"] not in rerun]
        order = [mutant.name for mutant in MUTANTS]
        merged = sorted(kept + rows, key=lambda row: order.index(row["name"]) if row["name"] in order else len(order))
        report = {**previous, "mutants": merged, "last_partial_run": {"names": sorted(rerun), "seconds": round(seconds, 1)}}
    report["caught"] = sum(row["caught_by_tests"] and row["caught_by_lesson"] for row in report["mutants"])
    report["total"] = len(report["mutants"])
    print()
    print(markdown_table(report["mutants"], report["seconds"]))
    if "last_partial_run" in report:
        print(f"(rows of {', '.join(report['last_partial_run']['names'])} rerun just now, in {report['last_partial_run']['seconds']:.0f} s)")
    print("\nbaseline (unmodified package): " + ", ".join(f"{name} {result['seconds']} s" for name, result in baseline.items()))
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.json} ({report['caught']} of {report['total']} caught by both)")
    return 0 if all(row["caught_by_tests"] and row["caught_by_lesson"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
